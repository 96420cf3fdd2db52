package server

import (
	"embed"
	"io/fs"
	"net/http"
)

// dashboardFiles holds the dashboard: plain HTML, CSS and JavaScript,
// served as they are (no build step, nothing fetched from elsewhere). The
// page polls GET /api/cluster and GET /api/rates and draws everything
// itself. lint:immutable (embedded at build time, read-only).
//
//go:embed dashboard
var dashboardFiles embed.FS

// dashboardHandler serves the dashboard's page at / and its assets under
// /dashboard/.
func dashboardHandler() (index, assets http.Handler) {
	sub, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic("server: embedded dashboard missing: " + err.Error()) // a build defect, not input
	}
	files := http.FileServerFS(sub)
	index = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, sub, "index.html")
	})
	assets = http.StripPrefix("/dashboard/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	return index, assets
}
