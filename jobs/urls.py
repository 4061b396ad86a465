"""URLs of the jobs API (included under /api/v1/)."""

from django.urls import path

from jobs.apis import account, jobs, selfies, sharing, styles, uploads

# Ids are matched as strings so a malformed one is a JSON 404 from the selector, not a page.
api_urlpatterns = [
    path("selfies/", selfies.SelfieCollectionApi.as_view(), name="api-selfies"),
    path("selfies/<str:selfie_id>/", selfies.SelfieDeleteApi.as_view(), name="api-selfie"),
    path("uploads/", uploads.UploadCreateApi.as_view(), name="api-uploads"),
    path("jobs/", jobs.JobCollectionApi.as_view(), name="api-jobs"),
    path("jobs/<str:job_id>/", jobs.JobDetailApi.as_view(), name="api-job-detail"),
    path("jobs/<str:job_id>/events/", jobs.JobEventListApi.as_view(), name="api-job-events"),
    path("jobs/<str:job_id>/cancel/", jobs.JobCancelApi.as_view(), name="api-job-cancel"),
    path("jobs/<str:job_id>/retry/", jobs.JobRetryApi.as_view(), name="api-job-retry"),
    path("jobs/<str:job_id>/share/", sharing.JobShareApi.as_view(), name="api-job-share"),
    path("styles/", styles.StyleListApi.as_view(), name="api-styles"),
    # GET is accounts' MeApi; DELETE deletes the user's jobs and selfies too (jobs/apis/account.py).
    path("me/", account.AccountApi.as_view(), name="api-me"),
]
