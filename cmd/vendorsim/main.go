// Command vendorsim serves the five simulated vendor token endpoints and
// the grant modes (Zoom's account_credentials, an RFC 8693 exchange; see
// internal/vendorsim) as a separate process, for end-to-end tests and the
// demo. It prints its base URL on stdout and, with -addr-file, writes it to
// a file once listening; /_sim/ endpoints steer it.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

type options struct {
	addr     string
	addrFile string
	useTLS   bool
	caFile   string
	certFile string // server certificate (PEM) instead of a generated one
	keyFile  string
	clientCA string // mTLS mode: client certificates from this CA (tls.go)
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address")
	flag.StringVar(&o.addrFile, "addr-file", "", "write the base URL (http[s]://host:port) here once listening")
	flag.BoolVar(&o.useTLS, "tls", false, "serve HTTPS (a certificate for 127.0.0.1/localhost from a fresh CA unless -tls-cert)")
	flag.StringVar(&o.caFile, "ca-file", "", "with -tls, write the generated CA certificate PEM here (what clients trust)")
	flag.StringVar(&o.certFile, "tls-cert", "", "with -tls, serve this certificate (PEM) instead of a generated one")
	flag.StringVar(&o.keyFile, "tls-key", "", "with -tls-cert, its private key (PEM)")
	flag.StringVar(&o.clientCA, "client-ca", "", "with -tls, mTLS mode (RFC 8705): token endpoints want a client certificate "+
		"signed by this CA (PEM) whose subject CN is the client_id")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("vendorsim: ")
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	if err := o.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, scheme, err := listen(o)
	if err != nil {
		return err
	}
	sim := vendorsim.New()
	sim.SetMTLS(o.clientCA != "")
	srv := &http.Server{Handler: logRequests(sim), ReadHeaderTimeout: 10 * time.Second}
	// Reset releases FaultHang requests, so shutdown need not wait for
	// their clients to give up.
	srv.RegisterOnShutdown(sim.Reset)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	base := baseURL(scheme, ln.Addr())
	if o.addrFile != "" {
		if err := writeFileAtomic(o.addrFile, []byte(base)); err != nil {
			_ = srv.Close()
			return err
		}
		// A stale file would point the next script at a dead port.
		defer os.Remove(o.addrFile)
	}
	fmt.Println(base)
	log.Printf("listening on %s", base)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	return shutdown(srv)
}

// listen opens the listener, wrapped in TLS when asked (tls.go).
func listen(o options) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, "", err
	}
	if !o.useTLS {
		return ln, "http", nil
	}
	cfg, err := tlsConfig(o)
	if err != nil {
		_ = ln.Close()
		return nil, "", err
	}
	return tls.NewListener(ln, cfg), "https", nil
}

// baseURL names the listener; an unspecified address (0.0.0.0, ::) is not
// dialable everywhere, so it is reported as 127.0.0.1.
func baseURL(scheme string, addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return scheme + "://" + addr.String()
	}
	ip := tcp.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return scheme + "://" + net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// shutdown lets in-flight requests finish, but not forever (a Latency
// knob may be long).
func shutdown(srv *http.Server) error {
	log.Print("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	return nil
}
