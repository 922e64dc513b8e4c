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
# Workers, timeouts and request limits: gunicorn.conf.py. Run it behind deploy/nginx.conf.
CMD ["gunicorn"]
