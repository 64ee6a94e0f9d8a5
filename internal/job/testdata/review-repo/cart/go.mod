module example.com/platform/cart

go 1.23
