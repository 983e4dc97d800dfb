package dataplane

import (
	"fmt"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"google.golang.org/protobuf/proto"
)

// EncodeDeliver returns the MsgDeliver packet that hands m to a consumer.
func EncodeDeliver(d Deliver, m *pluginv1.Message) ([]byte, error) {
	b := make([]byte, DeliverHeaderSize, DeliverHeaderSize+proto.Size(m))
	PutDeliverHeader(b, d)
	return appendMessage(b, m)
}

// EncodePublish returns the MsgPublish packet a producer sends for m.
func EncodePublish(handle uint32, m *pluginv1.Message) ([]byte, error) {
	b := make([]byte, PublishHeaderSize, PublishHeaderSize+proto.Size(m))
	PutPublishHeader(b, handle)
	return appendMessage(b, m)
}

func appendMessage(b []byte, m *pluginv1.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return nil, fmt.Errorf("message on %q: %w", m.GetTopic(), err)
	}
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("message on %q: %d bytes exceed one data-plane packet (%d)", m.GetTopic(), len(b), MaxMessage)
	}
	return b, nil
}

// DecodeDeliver decodes a MsgDeliver packet.
func DecodeDeliver(b []byte) (Deliver, *pluginv1.Message, error) {
	d, body, err := ParseDeliver(b)
	if err != nil {
		return Deliver{}, nil, err
	}
	m := &pluginv1.Message{}
	if err := proto.Unmarshal(body, m); err != nil {
		return Deliver{}, nil, fmt.Errorf("deliver message: %w", err)
	}
	return d, m, nil
}

// DecodePublish decodes a MsgPublish packet.
func DecodePublish(b []byte) (uint32, *pluginv1.Message, error) {
	handle, body, err := ParsePublish(b)
	if err != nil {
		return 0, nil, err
	}
	m := &pluginv1.Message{}
	if err := proto.Unmarshal(body, m); err != nil {
		return 0, nil, fmt.Errorf("publish message: %w", err)
	}
	return handle, m, nil
}
