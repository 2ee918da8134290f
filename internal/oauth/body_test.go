package oauth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// TestRetryBodyOfAnotherLength: a supplied assertion whose length changes
// between attempts (Vault's identity token, an issuer key switched from
// RSA to EC mid-grant) no longer fails the retry. The server refuses the
// first attempt with a 503; the second, with a longer assertion, arrives
// whole, with its own Content-Length, and its token is granted. With and
// without an Observer: the length is set whether or not attempts are
// counted.
func TestRetryBodyOfAnotherLength(t *testing.T) {
	for _, observed := range []bool{false, true} {
		t.Run("observer="+strconv.FormatBool(observed), func(t *testing.T) {
			var mu sync.Mutex
			var lengths, bodies []int
			var assertions []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				mu.Lock()
				defer mu.Unlock()
				lengths, bodies = append(lengths, int(r.ContentLength)), append(bodies, len(b))
				if err != nil {
					w.WriteHeader(400)
					return
				}
				if len(lengths) == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				form, _ := url.ParseQuery(string(b))
				assertions = append(assertions, form.Get("client_assertion"))
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":3600}`))
			}))
			defer srv.Close()
			n := 0
			cfg := &Config{Name: "grow", TokenURL: srv.URL, ClientID: "c", ClientAuth: AuthPrivateKeyJWT, Timeout: 5 * time.Second,
				TokenField: "access_token", ExpiresInField: "expires_in", TokenTypeField: "token_type",
				AssertionSupplier: func(context.Context, time.Time) (string, error) {
					// The probe and the first attempt share the first; the
					// retry's is 40 bytes longer.
					n++
					return "h.c." + strings.Repeat("s", 20+40*(n-1)), nil
				}}
			c, err := NewClient(cfg, NewPool())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			attempts := 0
			h := Hooks{Tune: func(cl *retryablehttp.Client) { cl.RetryWaitMin, cl.RetryWaitMax = time.Millisecond, time.Millisecond }}
			if observed {
				h.Observer = countingObserver{&attempts}
			}
			tok, err := c.Grant(context.Background(), cfg, time.Now, h)
			if err != nil || tok.AccessToken != "tok" {
				t.Fatalf("grant: %v %v", tok, err)
			}
			if len(lengths) != 2 || lengths[0] != bodies[0] || lengths[1] != bodies[1] || bodies[1] != bodies[0]+40 {
				t.Fatalf("Content-Length %v for bodies of %v bytes: want each attempt's own, the second 40 longer", lengths, bodies)
			}
			if len(assertions) != 1 || assertions[0] != "h.c."+strings.Repeat("s", 60) {
				t.Fatalf("the retry sent %v, want the second supplied assertion", assertions)
			}
			if observed && attempts != 2 {
				t.Fatalf("observer counted %d attempts, want 2", attempts)
			}
		})
	}
}

type countingObserver struct{ n *int }

func (o countingObserver) Attempt()                 { *o.n++ }
func (o countingObserver) Done(bool, time.Duration) {}
