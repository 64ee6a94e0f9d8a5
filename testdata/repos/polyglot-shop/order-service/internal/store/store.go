// Package store keeps orders in MongoDB.
package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Order is one order placed by a user.
type Order struct {
	ID        string    `json:"id" bson:"-"`
	UserID    string    `json:"userId" bson:"userId"`
	ProductID string    `json:"productId" bson:"productId"`
	Quantity  int       `json:"quantity" bson:"quantity"`
	CreatedAt time.Time `json:"createdAt" bson:"createdAt"`
}

// Store is a MongoDB-backed order store.
type Store struct {
	client *mongo.Client
	orders *mongo.Collection
}

// Connect opens a client for uri and pings the server.
func Connect(ctx context.Context, uri string) (*Store, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	return &Store{client: client, orders: client.Database("orders").Collection("orders")}, nil
}

// Close disconnects the client.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Insert saves an order and returns it with its ID set.
func (s *Store) Insert(ctx context.Context, o Order) (Order, error) {
	o.CreatedAt = time.Now().UTC()
	res, err := s.orders.InsertOne(ctx, o)
	if err != nil {
		return Order{}, fmt.Errorf("insert order: %w", err)
	}
	if id, ok := res.InsertedID.(primitive.ObjectID); ok {
		o.ID = id.Hex()
	}
	return o, nil
}

// List returns the 100 most recent orders.
func (s *Store) List(ctx context.Context) ([]Order, error) {
	opts := options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(100)
	cur, err := s.orders.Find(ctx, bson.D{}, opts)
	if err != nil {
		return nil, fmt.Errorf("find orders: %w", err)
	}
	defer cur.Close(ctx)
	orders := []Order{}
	for cur.Next(ctx) {
		var doc struct {
			ID    primitive.ObjectID `bson:"_id"`
			Order `bson:",inline"`
		}
		if err := cur.Decode(&doc); err != nil {
			return nil, fmt.Errorf("decode order: %w", err)
		}
		doc.Order.ID = doc.ID.Hex()
		orders = append(orders, doc.Order)
	}
	return orders, cur.Err()
}
