package oauthvendor

import "time"

// grantFailure is a failed grant as the back-off policy sees it: the error
// readers get, whether the vendor refused the credentials themselves, and
// how long the vendor asked to be left alone (vendor.go makes one of an
// *oauth.Error).
type grantFailure struct {
	err        error // a CodedError, or a storage error
	rejected   bool
	retryAfter time.Duration
	// code is the vendor's OAuth error code ("invalid_grant"), "" when none.
	code string
	// refreshToken: a refused answer's new refresh token (a secret): the
	// vendor spent the one sent, so this one must be kept all the same.
	refreshToken string
}

func transient(err error) *grantFailure { return &grantFailure{err: err} }
