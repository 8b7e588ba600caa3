"""Usage ingest as CloudEvents over HTTP: `POST /events`."""
