FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build FIELD_ENCRYPTION_KEY=ZGV2LW9ubHktaW5zZWN1cmUta2V5LTMyLWJ5dGVzISE= \
    python manage.py collectstatic --noinput
RUN useradd --create-home app && mkdir -p /app/media && chown app /app/media
USER app
EXPOSE 8000
# gthread keeps connections alive; 3x1 measured best on 2 cores (bench/bench_callbacks.py).
CMD ["gunicorn", "ccp_console.wsgi", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "3", "--threads", "1", "--keep-alive", "5"]
