// Package e2e holds the end-to-end tests of the twister web client and
// widget (package web): headless Chromium, driven with chromedp, against a
// local twister network — native twisterd nodes (package node) and a
// bridge on loopback — with the browser node built to WebAssembly from
// ../../wasm. Screenshots go to $TWISTER_SCREENSHOTS or web/e2e/out. The
// tests skip when /usr/bin/chromium is missing. There is no code here
// besides the tests.
package e2e
