package com.example.orders;

class OrdersApplicationTests {
}
