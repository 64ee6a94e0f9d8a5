package diagnosetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kubelet is a stand-in for the one kubelet endpoint the API server's
// pods/log subresource proxies to: GET /containerLogs/{ns}/{pod}/{container}
// with tailLines, limitBytes and previous, served over TLS with a
// certificate the API server verifies (--kubelet-certificate-authority),
// requiring the client certificate the API server presents
// (--kubelet-client-certificate), as a kubelet does.
type Kubelet struct {
	srv *httptest.Server
	// Port is what the Node's status.daemonEndpoints.kubeletEndpoint names.
	Port int
	// The files the API server is started with.
	CAFile, ClientCert, ClientKey string

	mu   sync.Mutex
	logs map[string]string // ns/pod/container[/previous] -> log text
	// ignoreLimits serves whole logs, as a kubelet that ignores the
	// bounds would, to test that the collector bounds them itself.
	ignoreLimits bool
	requests     []string // the request URIs, in order
}

// newKubelet writes a throwaway CA, a serving certificate for 127.0.0.1
// and a client certificate for the API server into dir, and starts the
// stand-in.
func newKubelet(dir string) (*Kubelet, error) {
	ca, caKey, caPEM, err := newCA()
	if err != nil {
		return nil, err
	}
	serving, err := issueCert(ca, caKey, "kubelet", []net.IP{net.IPv4(127, 0, 0, 1)}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	client, err := issueCert(ca, caKey, "kube-apiserver-kubelet-client", nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	k := &Kubelet{logs: map[string]string{},
		CAFile: filepath.Join(dir, "kubelet-ca.crt"), ClientCert: filepath.Join(dir, "kubelet-client.crt"), ClientKey: filepath.Join(dir, "kubelet-client.key")}
	for file, data := range map[string][]byte{k.CAFile: caPEM, k.ClientCert: client.certPEM, k.ClientKey: client.keyPEM} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			return nil, err
		}
	}
	pair, err := tls.X509KeyPair(serving.certPEM, serving.keyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	k.srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	k.srv.StartTLS()
	k.Port = k.srv.Listener.Addr().(*net.TCPAddr).Port
	return k, nil
}

func (k *Kubelet) Close() { k.srv.Close() }

// SetIgnoreLimits has the stand-in serve whole logs, ignoring tailLines
// and limitBytes, as a kubelet that ignores the bounds would (false: it
// honours them, as a kubelet does).
func (k *Kubelet) SetIgnoreLimits(ignore bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ignoreLimits = ignore
}

// SetLog serves text as the log of a container (previous: of its last
// terminated instance).
func (k *Kubelet) SetLog(ns, pod, container string, previous bool, text string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.logs[logKey(ns, pod, container, previous)] = text
}

// Requests returns the request URIs served so far for namespace ns.
func (k *Kubelet) Requests(ns string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, r := range k.requests {
		if strings.HasPrefix(r, "/containerLogs/"+ns+"/") {
			out = append(out, r)
		}
	}
	return out
}

func logKey(ns, pod, container string, previous bool) string {
	k := ns + "/" + pod + "/" + container
	if previous {
		k += "/previous"
	}
	return k
}

// serve answers like the kubelet's /containerLogs handler: the last
// tailLines lines, then at most limitBytes bytes; a running container
// without a fixture log has an empty one, and one that never terminated
// has no previous log (400).
func (k *Kubelet) serve(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.requests = append(k.requests, r.URL.RequestURI())
	ignore := k.ignoreLimits
	k.mu.Unlock()
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/containerLogs/") || len(parts) != 3 || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	k.mu.Lock()
	text, ok := k.logs[logKey(parts[0], parts[1], parts[2], q.Get("previous") == "true")]
	k.mu.Unlock()
	if !ok && q.Get("previous") == "true" {
		// What a kubelet answers for a container that never terminated.
		http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", parts[2], parts[1]), http.StatusBadRequest)
		return
	}
	if !ignore {
		if n, err := strconv.Atoi(q.Get("tailLines")); err == nil && n >= 0 {
			lines := strings.SplitAfter(text, "\n")
			if lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			if len(lines) > n {
				lines = lines[len(lines)-n:]
			}
			text = strings.Join(lines, "")
		}
		if n, err := strconv.Atoi(q.Get("limitBytes")); err == nil && n >= 0 && n < len(text) {
			text = text[:n]
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(text))
}

type issued struct{ certPEM, keyPEM []byte }

func newCA() (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubewright-test-kubelet-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func issueCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, ips []net.IP, usage x509.ExtKeyUsage) (issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return issued{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return issued{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return issued{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return issued{}, err
	}
	return issued{certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}, nil
}
