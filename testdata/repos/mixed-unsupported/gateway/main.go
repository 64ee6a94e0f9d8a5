package main

import (
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	storefront, _ := url.Parse(os.Getenv("STOREFRONT_URL"))
	billing, _ := url.Parse(os.Getenv("BILLING_URL"))
	mux := http.NewServeMux()
	mux.Handle("/shop/", httputil.NewSingleHostReverseProxy(storefront))
	mux.Handle("/billing/", httputil.NewSingleHostReverseProxy(billing))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	log.Fatal(http.ListenAndServe(addr, mux))
}
