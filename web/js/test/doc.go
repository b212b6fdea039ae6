// Package browsertest holds the end-to-end test of the browser node in
// headless Chromium (browser_test.go) and its test page (index.html,
// test.js). It has no code of its own.
package browsertest
