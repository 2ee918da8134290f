package vendorsim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
)

// params are the token request parameters, whatever their encoding.
type params map[string]string

// tokenGrant is what a valid token request established.
type tokenGrant struct {
	clientID string
	scope    string
}

// checkTokenRequest validates a token request against the vendor's page and
// the accepted credentials c. Checks run cheapest and most generic first, as
// a gateway in front of the vendor would: method, headers, body encoding,
// missing parameters (400), then credentials (401). With mtls the client
// certificate is checked first (mtls.go); a client assertion is checked
// against the client's JWKS (assertion.go); in jwt_bearer mode the grant
// is the assertion (bearer.go).
func (s *Sim) checkTokenRequest(r *http.Request, spec *vendorSpec, body []byte, plan tokenPlan) (tokenGrant, *apiError) {
	c := plan.creds
	if r.Method != http.MethodPost {
		e := methodNotAllowed()
		return tokenGrant{}, &e
	}
	if e := spec.checkHeaders(r, c); e != nil {
		return tokenGrant{}, e
	}
	p, e := spec.parseParams(r, body)
	if e != nil {
		return tokenGrant{}, e
	}
	if plan.knobs.JWTBearer != nil {
		return s.bearerGrant(r, spec, p, plan)
	}
	var client clientAuth
	if _, asserted := p["client_assertion"]; asserted && spec.clientAuth {
		client, e = s.assertionClient(r, spec.name, plan.knobs.JWKSURL, p)
	} else {
		client, e = spec.clientCredentials(r, p)
	}
	if e != nil {
		return tokenGrant{}, e
	}
	if plan.mtls && spec.clientAuth {
		if e := checkClientCert(r, &client); e != nil {
			return tokenGrant{}, e
		}
	}
	if e := spec.checkRequired(p, client); e != nil {
		return tokenGrant{}, e
	}
	if e := spec.checkGrantType(p); e != nil {
		return tokenGrant{}, e
	}
	if e := spec.authenticate(p, client, c); e != nil {
		return tokenGrant{}, e
	}
	if e := s.checkGrantFields(spec, p, c, plan.knobs); e != nil {
		return tokenGrant{}, e
	}
	return tokenGrant{clientID: client.id, scope: p["scope"]}, nil
}

// checkHeaders enforces headers the vendor demands on every call:
// AlphaSense's x-api-key (000_*.txt: 403 when the key is not accepted) and
// the model-portfolio API's versioned Accept (001_*.txt).
func (spec *vendorSpec) checkHeaders(r *http.Request, c Credentials) *apiError {
	if spec.apiKeyName != "" && !secretEqual(r.Header.Get(spec.apiKeyName), c.APIKey) {
		return &apiError{status: http.StatusForbidden, code: "forbidden", desc: "missing or invalid API key"}
	}
	if spec.accept != "" {
		if got := r.Header.Values("Accept"); len(got) != 1 || got[0] != spec.accept {
			return &apiError{status: http.StatusNotAcceptable, code: "invalid_request",
				desc: "Accept header must be exactly " + spec.accept}
		}
	}
	return nil
}

// parseParams decodes the body in the vendor's documented encoding.
func (spec *vendorSpec) parseParams(r *http.Request, body []byte) (params, *apiError) {
	if spec.body == bodyJSON {
		return spec.parseJSON(r, body)
	}
	return parseForm(r, body)
}

func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// parseForm reads an application/x-www-form-urlencoded body. Query string
// parameters are ignored: credentials belong in the body (RFC 6749 2.3.1).
func parseForm(r *http.Request, body []byte) (params, *apiError) {
	if mediaType(r) != "application/x-www-form-urlencoded" {
		return nil, badRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	return parseFormBody(body)
}

// parseFormBody decodes a form body, each parameter at most once.
func parseFormBody(body []byte) (params, *apiError) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("malformed form body")
	}
	p := params{}
	for k, v := range vals {
		// RFC 6749 section 3.2: parameters MUST NOT be included more than once.
		if len(v) != 1 {
			return nil, badRequest("parameter " + k + " repeated")
		}
		p[k] = v[0]
	}
	return p, nil
}

// parseJSON reads a JSON object of strings (model-portfolio, AlertSite).
func (spec *vendorSpec) parseJSON(r *http.Request, body []byte) (params, *apiError) {
	if mediaType(r) != "application/json" {
		return nil, &apiError{status: http.StatusUnsupportedMediaType, code: "invalid_request",
			desc: "Content-Type must be application/json"}
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || dec.Decode(new(any)) != io.EOF {
		return nil, badRequest("malformed JSON body")
	}
	p := params{}
	for k, v := range raw {
		if spec.strictJSON && !slices.Contains(spec.allowedJSON, k) {
			return nil, badRequest("unexpected member " + k)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, badRequest(k + " must be a string")
		}
		p[k] = s
	}
	return p, nil
}

// clientAuth is the client's claimed identity and how it was presented.
type clientAuth struct {
	id, secret string
	viaBasic   bool
	viaCert    bool // RFC 8705 tls_client_auth: the certificate stands for the secret
	// viaAssertion: RFC 7523 private_key_jwt, verified (assertion.go).
	viaAssertion bool
}

// clientCredentials finds the client credentials: HTTP Basic where the
// vendor allows client_secret_basic, else the body. RFC 6749 2.3.1: the
// Basic user and password are form-urlencoded first, and a client MUST NOT
// use more than one authentication method.
func (spec *vendorSpec) clientCredentials(r *http.Request, p params) (clientAuth, *apiError) {
	if !spec.clientAuth {
		return clientAuth{}, nil
	}
	user, pass, ok := r.BasicAuth()
	if spec.basicOnly && !ok {
		return clientAuth{}, basicFailure("client credentials must be sent as HTTP Basic")
	}
	if !spec.basicAuth || !ok {
		return clientAuth{id: p["client_id"], secret: p["client_secret"]}, nil
	}
	id, errID := url.QueryUnescape(user)
	secret, errSecret := url.QueryUnescape(pass)
	if errID != nil || errSecret != nil {
		return clientAuth{}, basicFailure("malformed client_secret_basic credentials")
	}
	if _, dup := p["client_secret"]; dup {
		return clientAuth{}, badRequest("more than one client authentication method")
	}
	if bodyID, ok := p["client_id"]; ok && bodyID != id {
		return clientAuth{}, badRequest("client_id in body differs from HTTP Basic user")
	}
	return clientAuth{id: id, secret: secret, viaBasic: true}, nil
}

// checkRequired answers 400 invalid_request naming the first missing parameter.
func (spec *vendorSpec) checkRequired(p params, client clientAuth) *apiError {
	var need []string
	if spec.grantType != "" {
		need = append(need, "grant_type")
	}
	if spec.userAuth {
		need = append(need, "username", "password")
	}
	if spec.accountID {
		need = append(need, "account_id")
	}
	if spec.exchange {
		need = append(need, "subject_token", "subject_token_type") // RFC 8693 2.1
	}
	switch {
	case !spec.clientAuth || client.viaBasic || client.viaAssertion:
	case client.viaCert:
		need = append(need, "client_id")
	default:
		need = append(need, "client_id", "client_secret")
	}
	for _, k := range need {
		if p[k] == "" {
			return badRequest("missing parameter " + k)
		}
	}
	return nil
}

func (spec *vendorSpec) checkGrantType(p params) *apiError {
	if spec.grantType == "" || p["grant_type"] == spec.grantType {
		return nil
	}
	return &apiError{status: http.StatusBadRequest, code: "unsupported_grant_type",
		desc: fmt.Sprintf("grant_type must be %s", spec.grantType)}
}

// authenticate compares the presented credentials with the accepted ones.
func (spec *vendorSpec) authenticate(p params, client clientAuth, c Credentials) *apiError {
	if spec.clientAuth && !(secretEqual(client.id, c.ClientID) && (client.viaCert || client.viaAssertion || secretEqual(client.secret, c.ClientSecret))) {
		if client.viaBasic {
			return basicFailure("client authentication failed")
		}
		return &apiError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client authentication failed"}
	}
	if spec.userAuth && !(secretEqual(p["username"], c.Username) && secretEqual(p["password"], c.Password)) {
		e := spec.badUser
		return &e
	}
	return nil
}

// basicFailure is RFC 6749 5.2: a client that authenticated with the
// Authorization header gets 401 and WWW-Authenticate.
func basicFailure(desc string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: "invalid_client", desc: desc,
		header: map[string]string{"WWW-Authenticate": `Basic realm="oauth"`}}
}

func badRequest(desc string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

func secretEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
