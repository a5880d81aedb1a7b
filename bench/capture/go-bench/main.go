// gobench: per-call cost of Go crypto/tls calls, for bench/go-tls.bench.ts. A client and a server tls.Conn over an
// in-memory connection pair in one process (no syscalls); after the handshake one goroutine runs N rounds of
// client.Write(1 byte) then server.Read — each exactly one (*Conn).Write / (*Conn).Read call — timing each call.
// Prints {"write":[ns...],"read":[ns...]} (the first 1,000 rounds dropped).
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

type pipe struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte
}

type memConn struct{ in, out *pipe }

func (c memConn) Read(b []byte) (int, error) {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	for len(c.in.buf) == 0 {
		c.in.cond.Wait()
	}
	n := copy(b, c.in.buf)
	c.in.buf = c.in.buf[n:]
	return n, nil
}
func (c memConn) Write(b []byte) (int, error) {
	c.out.mu.Lock()
	c.out.buf = append(c.out.buf, b...)
	c.out.mu.Unlock()
	c.out.cond.Broadcast()
	return len(b), nil
}
func (memConn) Close() error                     { return nil }
func (memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (memConn) SetDeadline(time.Time) error      { return nil }
func (memConn) SetReadDeadline(time.Time) error  { return nil }
func (memConn) SetWriteDeadline(time.Time) error { return nil }

func newPipe() *pipe { p := &pipe{}; p.cond = sync.NewCond(&p.mu); return p }

func main() {
	n := 20000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"bench"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	a, b := newPipe(), newPipe()
	client := tls.Client(memConn{in: a, out: b}, &tls.Config{RootCAs: roots, ServerName: "bench"})
	server := tls.Server(memConn{in: b, out: a}, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	done := make(chan error)
	go func() { done <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		panic(err)
	}
	if err := <-done; err != nil {
		panic(err)
	}
	one, buf := []byte{'x'}, make([]byte, 16)
	w, r := make([]int64, 0, n), make([]int64, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		client.Write(one)
		t1 := time.Now()
		server.Read(buf)
		t2 := time.Now()
		if i >= 1000 {
			w = append(w, t1.Sub(t0).Nanoseconds())
			r = append(r, t2.Sub(t1).Nanoseconds())
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string][]int64{"write": w, "read": r})
}
