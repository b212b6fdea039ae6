//go:build js && wasm

package main

import (
	"context"
	"encoding/json"

	"github.com/gotwister/twister/webnode"
)

// socialMethod answers the methods of other users' data, conversations,
// group chats and promoted posts (web/js/README.md); ok is false for any
// other method.
func socialMethod(ctx context.Context, n *webnode.Node, method string, raw json.RawMessage) (res any, ok bool, err error) {
	switch method {
	case "userFollowing":
		p, err := params[struct{ User string }](raw)
		if err != nil {
			return nil, true, err
		}
		res, err = n.UserFollowing(ctx, p.User)
		return res, true, err
	case "userPosts":
		p, err := params[webnode.UserPostsOptions](raw)
		if err != nil {
			return nil, true, err
		}
		res, err = n.UserPosts(ctx, p)
		return res, true, err
	case "conversations":
		res, err = n.Conversations()
		return res, true, err
	case "promotedPosts":
		p, err := params[webnode.PromotedOptions](raw)
		if err != nil {
			return nil, true, err
		}
		res, err = n.PromotedPosts(ctx, p)
		return res, true, err
	case "createGroup":
		p, err := params[struct{ Description string }](raw)
		if err != nil {
			return nil, true, err
		}
		res, err = n.CreateGroup(ctx, p.Description)
		return res, true, err
	case "groups":
		res, err = n.Groups()
		return res, true, err
	case "groupInvite":
		p, err := params[struct {
			Alias   string
			Members []string
		}](raw)
		if err != nil {
			return nil, true, err
		}
		res, err = n.GroupInvite(ctx, p.Alias, p.Members)
		return res, true, err
	case "groupMessage":
		p, err := params[struct{ Alias, Text string }](raw)
		if err != nil {
			return nil, true, err
		}
		res, err = n.GroupMessage(ctx, p.Alias, p.Text)
		return res, true, err
	case "groupMessages":
		p, err := params[struct{ Alias string }](raw)
		if err != nil {
			return nil, true, err
		}
		res, err = n.GroupMessages(p.Alias)
		return res, true, err
	case "leaveGroup":
		p, err := params[struct{ Alias string }](raw)
		if err != nil {
			return nil, true, err
		}
		return nil, true, n.LeaveGroup(ctx, p.Alias)
	}
	return nil, false, nil
}
