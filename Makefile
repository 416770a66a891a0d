# Shortcuts for the observability stack, like the seed project's `make up` / `make logs`.
.PHONY: up logs down clean

up: ## Start Tempo, Loki, Prometheus and Grafana, and wait until they are healthy
	docker compose up -d observability
	docker compose logs observability

logs: ## Follow the stack's logs
	docker compose logs -f tempo loki prometheus grafana

down: ## Stop the stack, keeping its data
	docker compose down

clean: ## Stop the stack and delete its data
	docker compose down -v
