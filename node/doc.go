// Package node composes the username chain, the DHT, the post swarms and the
// wallet into a twister node, and gives it twisterd's command line and
// JSON-RPC interface.
package node
