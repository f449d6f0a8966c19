FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY services ./services
COPY migrations ./migrations
COPY openapi ./openapi
RUN pip install --no-cache-dir -c constraints.txt .
ENV DUBAN_ENVIRONMENT=production
USER nobody
EXPOSE 8000
CMD ["duban", "api", "--host", "0.0.0.0", "--port", "8000"]
