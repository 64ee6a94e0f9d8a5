module example.com/grpcshop/loadtest

go 1.23
