module example.com/grpcshop/checkout

go 1.23

require (
	github.com/segmentio/kafka-go v0.4.47
	google.golang.org/grpc v1.67.1
)
