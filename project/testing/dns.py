"""Fake DNS answers for tests of what resolves names (outbound URL checks), nothing else."""

from __future__ import annotations

import socket

Answer = str | list[str] | None


class FakeDNS:
    """`dns.answer("name", a, b, ...)`: the next lookups of "name" get a, then b, ... (an address
    or a list of them); the last answer repeats, and None fails the lookup. Other names resolve
    as usual (offline here)."""

    def __init__(self):
        self.answers: dict[str, list[Answer]] = {}
        self.lookups: list[str] = []
        self.real = socket.getaddrinfo

    def answer(self, name: str, *answers: Answer) -> None:
        self.answers[name] = list(answers)

    def getaddrinfo(self, host, port, *args, **kwargs):
        if host not in self.answers:
            return self.real(host, port, *args, **kwargs)
        self.lookups.append(host)
        queue = self.answers[host]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM,
                 socket.IPPROTO_TCP, "", (address, port))
                for address in ([answer] if isinstance(answer, str) else answer)]
