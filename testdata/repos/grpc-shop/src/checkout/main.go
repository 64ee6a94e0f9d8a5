package main

import (
	"log"
	"net"
	"os"

	"github.com/segmentio/kafka-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "5050"
	}
	payment := mustDial(os.Getenv("PAYMENT_ADDR"))
	shipping := mustDial("shipping:50050")
	defer payment.Close()
	defer shipping.Close()

	writer := &kafka.Writer{Addr: kafka.TCP(os.Getenv("KAFKA_ADDR")), Topic: "orders"}
	defer writer.Close()

	lis, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	log.Printf("checkout listening on %s", lis.Addr())
	if err := srv.Serve(lis); err != nil {
		log.Fatal(err)
	}
}

func mustDial(addr string) *grpc.ClientConn {
	conn, err := grpc.NewClient(addr)
	if err != nil {
		log.Fatal(err)
	}
	return conn
}
