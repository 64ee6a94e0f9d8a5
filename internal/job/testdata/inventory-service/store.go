package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Item is one stock-keeping unit and how many are in stock.
type Item struct {
	SKU       string    `json:"sku"`
	Name      string    `json:"name"`
	Quantity  int       `json:"quantity"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ErrNotFound is returned for a SKU the store does not hold.
var ErrNotFound = errors.New("item not found")

// Store keeps inventory items.
type Store interface {
	List(ctx context.Context) ([]Item, error)
	Get(ctx context.Context, sku string) (Item, error)
	// Put creates or replaces the item with item.SKU and returns it as stored.
	Put(ctx context.Context, item Item) (Item, error)
}

// PGStore is a Store in PostgreSQL.
type PGStore struct {
	pool *pgxpool.Pool
}

var _ Store = (*PGStore)(nil)

// NewPGStore returns a store over the pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

const schema = `CREATE TABLE IF NOT EXISTS inventory_items (
	sku        text        PRIMARY KEY,
	name       text        NOT NULL,
	quantity   integer     NOT NULL CHECK (quantity >= 0),
	updated_at timestamptz NOT NULL DEFAULT now()
)`

// Init creates the table if it does not exist.
func (s *PGStore) Init(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, schema); err != nil {
		return fmt.Errorf("create inventory_items: %w", err)
	}
	return nil
}

func scanItem(row pgx.CollectableRow) (Item, error) {
	var it Item
	err := row.Scan(&it.SKU, &it.Name, &it.Quantity, &it.UpdatedAt)
	return it, err
}

// List returns every item, ordered by SKU.
func (s *PGStore) List(ctx context.Context) ([]Item, error) {
	rows, err := s.pool.Query(ctx, `SELECT sku, name, quantity, updated_at FROM inventory_items ORDER BY sku`)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanItem)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	return items, nil
}

// Get returns one item, or ErrNotFound.
func (s *PGStore) Get(ctx context.Context, sku string) (Item, error) {
	rows, err := s.pool.Query(ctx, `SELECT sku, name, quantity, updated_at FROM inventory_items WHERE sku = $1`, sku)
	if err != nil {
		return Item{}, fmt.Errorf("get item %s: %w", sku, err)
	}
	it, err := pgx.CollectExactlyOneRow(rows, scanItem)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, fmt.Errorf("get item %s: %w", sku, err)
	}
	return it, nil
}

// Put creates or replaces an item.
func (s *PGStore) Put(ctx context.Context, item Item) (Item, error) {
	rows, err := s.pool.Query(ctx, `
		INSERT INTO inventory_items (sku, name, quantity, updated_at)
		VALUES ($1, $2, $3, now())
		ON CONFLICT (sku) DO UPDATE
		SET name = EXCLUDED.name, quantity = EXCLUDED.quantity, updated_at = now()
		RETURNING sku, name, quantity, updated_at`,
		item.SKU, item.Name, item.Quantity)
	if err != nil {
		return Item{}, fmt.Errorf("put item %s: %w", item.SKU, err)
	}
	it, err := pgx.CollectExactlyOneRow(rows, scanItem)
	if err != nil {
		return Item{}, fmt.Errorf("put item %s: %w", item.SKU, err)
	}
	return it, nil
}
