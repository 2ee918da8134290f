// Package vendorsim simulates the OAuth token endpoints (and one protected
// API endpoint each) of the five vendors the plugin speaks to. Every
// behaviour follows the vendor pages kept in /work/shared/vendors; comments
// name the page a quirk comes from so that a reader can check it.
//
// The simulator is an http.Handler: unit tests mount it on an
// httptest.Server, end-to-end tests run it as a process (cmd/vendorsim)
// and steer it through the /_sim/ control endpoints. Knobs inject faults
// (error statuses, broken bodies, hangs, redirects...) so that the plugin's
// error handling can be exercised without a real vendor. The jwks_url knob
// makes a vendor take private_key_jwt client assertions, verified against
// the client's JWKS and refetched on an unknown kid (assertion.go); with
// the jwt_bearer knob too, the token endpoint takes RFC 7523 2.1's grant
// instead of the vendor's own and checks the assertion as a relying party
// does (bearer.go), and /_sim/assertions/<vendor> hands out what it got.
// Two grant modes sit beside the vendors (grants.go): Zoom's
// account_credentials, and an RFC 8693 token exchange that accepts only
// live tokens the simulator itself issued as subject tokens.
package vendorsim
