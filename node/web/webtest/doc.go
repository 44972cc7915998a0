// Package webtest holds the browser tests of the web interface: they build
// the banyan command, run real nodes on loopback, and drive their pages in
// headless Chromium through chromedp. Without Chromium or Chrome on the
// machine they skip themselves. The package has no code of its own.
package webtest
