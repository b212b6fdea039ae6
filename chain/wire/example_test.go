package wire_test

import (
	"bytes"
	"fmt"

	"github.com/gotwister/twister/chain/wire"
)

func Example() {
	var conn bytes.Buffer // a net.Conn in real use
	ping := &wire.MsgPing{Nonce: 7}
	if err := wire.WriteMessage(&conn, wire.MainnetMagic, ping); err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", conn.Bytes()[:wire.HeaderSize])

	m, err := wire.ReadMessage(&conn, wire.MainnetMagic, 0)
	if err != nil {
		panic(err)
	}
	switch m := m.(type) {
	case *wire.MsgPing:
		fmt.Println("ping", m.Nonce, "-> answer with", (&wire.MsgPong{Nonce: m.Nonce}).Command())
	case *wire.MsgUnknown:
		fmt.Println("ignoring", m.Cmd)
	}
	// Output:
	// f0dabbd270696e670000000000000000080000008c820c80
	// ping 7 -> answer with pong
}
