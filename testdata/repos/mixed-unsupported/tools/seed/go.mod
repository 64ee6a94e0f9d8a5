module example.com/mixed/seed

go 1.22
