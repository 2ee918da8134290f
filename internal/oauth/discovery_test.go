package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestFetchMetadataDeviceEndpoint: RFC 8628 4's device_authorization_endpoint
// (and its RFC 8705 5 mTLS alias) is read when the issuer publishes one,
// and is "" when it does not.
func TestFetchMetadataDeviceEndpoint(t *testing.T) {
	for _, device := range []string{"/device/auth", ""} {
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			doc := map[string]interface{}{"issuer": srv.URL, "token_endpoint": srv.URL + "/token"}
			if device != "" {
				doc["device_authorization_endpoint"] = srv.URL + device
				doc["mtls_endpoint_aliases"] = map[string]string{"device_authorization_endpoint": srv.URL + "/mtls" + device}
			}
			_ = json.NewEncoder(w).Encode(doc)
		}))
		md, err := FetchMetadata(context.Background(), NewPool(), &Config{Timeout: 5 * time.Second}, srv.URL, Hooks{})
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		want, wantMTLS := "", ""
		if device != "" {
			want, wantMTLS = srv.URL+device, srv.URL+"/mtls"+device
		}
		if md.DeviceAuthorizationEndpoint != want || md.MTLSAliases.DeviceAuthorizationEndpoint != wantMTLS || md.TokenEndpoint != srv.URL+"/token" {
			t.Errorf("metadata %+v, want device endpoint %q", md, want)
		}
	}
}
