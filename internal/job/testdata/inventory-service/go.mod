module github.com/acme/polyglot-shop/inventory-service

go 1.26

require (
	github.com/jackc/pgx/v5 v5.11.0
	github.com/prometheus/client_golang v1.25.0
)
