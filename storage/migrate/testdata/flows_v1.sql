CREATE TABLE IF NOT EXISTS sluice.flows
(
    `TimeReceived` DateTime COMMENT 'when the collector received the datagram' CODEC(DoubleDelta, LZ4),
    `TimeFlowStart` DateTime64(3) COMMENT 'first packet of the flow (0 when not exported)' CODEC(DoubleDelta, LZ4),
    `TimeFlowEnd` DateTime64(3) COMMENT 'last packet of the flow (0 when not exported)' CODEC(DoubleDelta, LZ4),
    `FlowType` Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4) COMMENT 'export protocol',
    `ExporterAddress` IPv6 COMMENT 'exporter\'s address (IPv4 mapped)',
    `ObservationDomainID` UInt32 COMMENT 'NetFlow v9 source ID, IPFIX observation domain, sFlow sub-agent',
    `SamplerID` UInt64 COMMENT 'sampler ID the sampling rate came from',
    `SamplingRate` UInt64 COMMENT '1 in N packets sampled; Bytes and Packets are not scaled',
    `SrcAddr` IPv6 COMMENT 'source address (IPv4 mapped)',
    `DstAddr` IPv6 COMMENT 'destination address (IPv4 mapped)',
    `SrcNetMask` UInt8 COMMENT 'source prefix length',
    `DstNetMask` UInt8 COMMENT 'destination prefix length',
    `SrcAS` UInt32 COMMENT 'source AS number',
    `DstAS` UInt32 COMMENT 'destination AS number',
    `NextHop` IPv6 COMMENT 'IP next hop',
    `BGPNextHop` IPv6 COMMENT 'BGP next hop',
    `SrcPort` UInt16 COMMENT 'source transport port',
    `DstPort` UInt16 COMMENT 'destination transport port',
    `Proto` UInt8 COMMENT 'IP protocol number',
    `EType` UInt16 COMMENT 'Ethernet type: 2048 IPv4, 34525 IPv6',
    `TCPFlags` UInt16 COMMENT 'OR of the TCP flags seen',
    `IPTos` UInt8 COMMENT 'IP type of service / traffic class',
    `IPTTL` UInt8 COMMENT 'IP TTL / hop limit',
    `IPv6FlowLabel` UInt32 COMMENT 'IPv6 flow label',
    `IPFragmentID` UInt32 COMMENT 'IP fragment identification',
    `IPFragmentOffset` UInt16 COMMENT 'IP fragment offset',
    `ICMPType` UInt8 COMMENT 'ICMP or ICMPv6 type (see EType)',
    `ICMPCode` UInt8 COMMENT 'ICMP or ICMPv6 code',
    `InIfIndex` UInt32 COMMENT 'input interface SNMP index',
    `OutIfIndex` UInt32 COMMENT 'output interface SNMP index',
    `SrcVlan` UInt16 COMMENT 'source (ingress) VLAN',
    `DstVlan` UInt16 COMMENT 'destination (egress) VLAN',
    `SrcMAC` UInt64 COMMENT 'source MAC, 48 bits',
    `DstMAC` UInt64 COMMENT 'destination MAC, 48 bits',
    `ForwardingStatus` UInt8 COMMENT 'forwarding status (RFC 7270): 64 forwarded, 128 dropped, 192 consumed',
    `FlowDirection` UInt8 COMMENT '0 unknown, 1 ingress, 2 egress',
    `Bytes` UInt64 COMMENT 'bytes as exported (multiply by SamplingRate to estimate)',
    `Packets` UInt64 COMMENT 'packets as exported (multiply by SamplingRate to estimate)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (toStartOfFiveMinutes(TimeReceived), ExporterAddress, TimeReceived)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice raw flow records, one row per exported flow'
