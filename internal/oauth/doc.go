// Package oauth is the vendor protocol: a token request built from a
// connection description (Config), sent over a guarded, pooled transport
// with bounded retries, and its answer read into a Token or an *Error
// whose text has every secret of the Config redacted. It knows nothing of
// where tokens are kept or who asked: the caller (the Vault engine in the
// module root) owns storage, caching, leases and back-off, and imports
// this package; this package imports no Vault package (deps_test.go).
//
// Layout, top to bottom of one grant:
//
//	config.go      Config, Token, Logger, Observer: the API's data
//	client.go      NewClient, Client.Grant: send, read, interpret
//	grants.go      the grant table; grant_<name>.go one grant type each
//	clientauth.go  the client-auth table (body, basic, private_key_jwt,
//	               client_secret_jwt, tls_client_auth, none)
//	subject.go     token_exchange's subject token: SubjectSource, the
//	               caller's supplier, called once per grant
//	assertion.go   RFC 7523 assertions (client, jwt_bearer); signingkey.go keys
//	request.go     the token request; body.go a fresh body per attempt
//	response.go    reading a 2xx answer; jwt.go a JWT token's exp
//	errors.go      *Error: vendor errors, rejected or transient
//	redact.go      cutting secrets out of any text shown
//	httpclient.go  retries and Retry-After; transport.go shared pools;
//	dialguard.go   no connection to metadata or link-local addresses;
//	tlsconfig.go   CA and client certificate; pemtext.go PEM fields
//	discovery.go   authorization server metadata (OIDC Discovery, RFC 8414)
//	deviceauth.go  RFC 8628's device authorization request and answer;
//	devicepoll.go  its polling, one step at a time (the device_code grant)
//	text.go        quoting operator text, comparing origins
//
// A new grant type (account_credentials, say) is one file:
// copy grant_password.go to grant_<name>.go, say what it puts in the body
// and whether the client authenticates, and add its row to grants in
// grants.go. A new client authentication is a row of clientAuths in
// clientauth.go (a new kind of signed assertion adds its key function in
// assertion.go, as assertionKeySecret does). The engine's field schema
// lists the allowed values (fields.go in the root); nothing else changes.
package oauth
