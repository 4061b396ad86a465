"""Provider backends: one module per vendor, holding only its payload mapping and parsing."""
