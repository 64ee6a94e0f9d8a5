module example.com/mixed/gateway

go 1.22
