// goclient: a Go crypto/tls client for agentsight's capture tests, built at test time by Debian's Go toolchain.
//
//	goclient raw ADDR CAFILE        TLS-dials ADDR (verifying against CAFILE), writes stdin in one tls.Conn.Write,
//	                                copies the response to stdout until the server closes (HTTP/1.1, ALPN http/1.1)
//	goclient http URL CAFILE [flags] POSTs -d to URL with net/http (HTTP/2 when the server offers h2, unless
//	                                -http1), -n times on one client; prints each response body to stdout and one JSON
//	                                line per response ({"proto","status","len"}) to stderr
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ",") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func pool(caFile string) *x509.CertPool {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		fail(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		fail(fmt.Errorf("no certificate in %s", caFile))
	}
	return p
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "goclient:", err)
	os.Exit(1)
}

func raw(addr, caFile string) {
	req, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool(caFile), NextProtos: []string{"http/1.1"}})
	if err != nil {
		fail(err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		fail(err)
	}
	if _, err := io.Copy(os.Stdout, c); err != nil {
		fail(err)
	}
}

func httpClient(url, caFile string, args []string) {
	fs := flag.NewFlagSet("http", flag.ExitOnError)
	http1 := fs.Bool("http1", false, "HTTP/1.1 only (no h2 in ALPN)")
	data := fs.String("d", "", "request body")
	n := fs.Int("n", 1, "requests, one after the other on one client")
	var hs headers
	fs.Var(&hs, "H", "request header 'name: value' (repeatable)")
	fs.Parse(args)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool(caFile)}, ForceAttemptHTTP2: !*http1}
	if *http1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client := &http.Client{Transport: tr}
	for i := 0; i < *n; i++ {
		req, err := http.NewRequest("POST", url, bytes.NewBufferString(*data))
		if err != nil {
			fail(err)
		}
		for _, h := range hs {
			k, v, _ := strings.Cut(h, ":")
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		resp, err := client.Do(req)
		if err != nil {
			fail(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(body)
		line, _ := json.Marshal(map[string]any{"proto": resp.Proto, "status": resp.StatusCode, "len": len(body)})
		fmt.Fprintln(os.Stderr, string(line))
	}
	tr.CloseIdleConnections()
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: goclient raw ADDR CAFILE | goclient http URL CAFILE [-http1] [-n N] [-H h]... [-d body]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "raw":
		raw(os.Args[2], os.Args[3])
	case "http":
		httpClient(os.Args[2], os.Args[3], os.Args[4:])
	default:
		fail(fmt.Errorf("unknown mode %s", os.Args[1]))
	}
}
