"""ASGI entry point for uvicorn (`api.app:app`)."""

from api.main import create_app

app = create_app()
