package vendorsim

import (
	"net/http"
	"strings"
)

// routeKind says what a path is for.
type routeKind int

const (
	routeToken routeKind = iota
	routeAPI
	routeAppendSlash // Django's APPEND_SLASH redirect (Alation)
)

type route struct {
	spec *vendorSpec
	kind routeKind
}

// routes maps exact paths to endpoints. Matching is exact on purpose: the
// sim must not forgive a plugin that gets a vendor's path slightly wrong.
var routes = buildRoutes()

func buildRoutes() map[string]route {
	m := map[string]route{}
	for _, name := range simulated {
		spec := specFor(name)
		m[spec.tokenPath] = route{spec, routeToken}
		m[spec.apiPath] = route{spec, routeAPI}
		if spec.appendSlash {
			m[strings.TrimSuffix(spec.tokenPath, "/")] = route{spec, routeAppendSlash}
			m[strings.TrimSuffix(spec.apiPath, "/")] = route{spec, routeAppendSlash}
		}
	}
	return m
}

// ServeHTTP serves the vendor endpoints and, under /_sim/, the control
// endpoints.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.control.ServeHTTP(w, r)
		return
	}
	rt, ok := routes[r.URL.Path]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "path": r.URL.Path})
		return
	}
	switch rt.kind {
	case routeToken:
		s.serveToken(w, r, rt.spec)
	case routeAPI:
		s.serveAPI(w, r, rt.spec)
	case routeAppendSlash:
		serveAppendSlash(w, r)
	}
}

// serveAppendSlash answers like Django's CommonMiddleware with APPEND_SLASH
// in production: 301 to the same path plus "/", for every method. Clients
// that follow a 301 on POST turn it into a GET and lose the body, so a
// plugin that drops Alation's trailing slash (003_*.txt) fails visibly.
func serveAppendSlash(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Path + "/"
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusMovedPermanently)
}
