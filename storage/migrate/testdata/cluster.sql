CREATE DATABASE IF NOT EXISTS sluice ON CLUSTER `sluice_cluster`;

CREATE TABLE IF NOT EXISTS sluice.schema_migrations ON CLUSTER `sluice_cluster`
(
    `version` UInt32 COMMENT 'schema version',
    `description` String COMMENT 'what the version changed',
    `applied_at` DateTime DEFAULT now() COMMENT 'when it was first applied'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/sluice/schema_migrations', '{replica}')
ORDER BY version
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sluice.flows_local ON CLUSTER `sluice_cluster`
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
    `Packets` UInt64 COMMENT 'packets as exported (multiply by SamplingRate to estimate)',
    `MPLS1stLabel` UInt32 COMMENT 'first (top) MPLS label value, 20 bits',
    `MPLS2ndLabel` UInt32 COMMENT 'second MPLS label value',
    `MPLS3rdLabel` UInt32 COMMENT 'third MPLS label value',
    `IngressVRFID` UInt32 COMMENT 'ingress VRF ID (IPFIX IE 234)',
    `EgressVRFID` UInt32 COMMENT 'egress VRF ID (IPFIX IE 235)',
    `SrcAddrNAT` IPv6 COMMENT 'source address after NAT (IPv4 mapped)',
    `DstAddrNAT` IPv6 COMMENT 'destination address after NAT (IPv4 mapped)',
    `SrcPortNAT` UInt16 COMMENT 'source port after NAPT',
    `DstPortNAT` UInt16 COMMENT 'destination port after NAPT'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sluice/flows_local', '{replica}')
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (toStartOfFiveMinutes(TimeReceived), ExporterAddress, TimeReceived)
TTL TimeReceived + toIntervalSecond(1296000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice raw flow records, one row per exported flow';

CREATE TABLE IF NOT EXISTS sluice.flows ON CLUSTER `sluice_cluster` AS sluice.flows_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_local, cityHash64(ExporterAddress));

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-1', async_insert = 0 VALUES (1, 'create flows table');

CREATE TABLE IF NOT EXISTS sluice.flows_1m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1m0s bucket' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `FlowType` Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4),
    `InIfIndex` UInt32,
    `OutIfIndex` UInt32,
    `SrcAS` UInt32,
    `DstAS` UInt32,
    `Proto` UInt8,
    `EType` UInt16,
    `FlowDirection` UInt8,
    `ForwardingStatus` UInt8,
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_1m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus)
TTL TimeReceived + toIntervalSecond(604800)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_1m ON CLUSTER `sluice_cluster` AS sluice.flows_1m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_1m_local, cityHash64(ExporterAddress));

INSERT INTO sluice.flows_1m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfMinute(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus) WHERE (SELECT count() FROM sluice.flows_1m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_1m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_1m_local AS SELECT toStartOfMinute(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus;

CREATE TABLE IF NOT EXISTS sluice.flows_5m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 5m0s bucket' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `FlowType` Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4),
    `InIfIndex` UInt32,
    `OutIfIndex` UInt32,
    `SrcAS` UInt32,
    `DstAS` UInt32,
    `Proto` UInt8,
    `EType` UInt16,
    `FlowDirection` UInt8,
    `ForwardingStatus` UInt8,
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_5m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus)
TTL TimeReceived + toIntervalSecond(7776000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 5m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_5m ON CLUSTER `sluice_cluster` AS sluice.flows_5m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_5m_local, cityHash64(ExporterAddress));

INSERT INTO sluice.flows_5m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus) WHERE (SELECT count() FROM sluice.flows_5m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_5m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_5m_local AS SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus;

CREATE TABLE IF NOT EXISTS sluice.flows_1h_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1h0m0s bucket' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `FlowType` Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4),
    `InIfIndex` UInt32,
    `OutIfIndex` UInt32,
    `SrcAS` UInt32,
    `DstAS` UInt32,
    `Proto` UInt8,
    `EType` UInt16,
    `FlowDirection` UInt8,
    `ForwardingStatus` UInt8,
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_1h_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMM(TimeReceived)
ORDER BY (TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus)
TTL TimeReceived + toIntervalSecond(31536000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1h0m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_1h ON CLUSTER `sluice_cluster` AS sluice.flows_1h_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_1h_local, cityHash64(ExporterAddress));

INSERT INTO sluice.flows_1h SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfHour(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus) WHERE (SELECT count() FROM sluice.flows_1h) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_1h_mv ON CLUSTER `sluice_cluster` TO sluice.flows_1h_local AS SELECT toStartOfHour(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus;

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-2', async_insert = 0 VALUES (2, 'create 1m, 5m and 1h rollups');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_SrcAddr SrcAddr TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_DstAddr DstAddr TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_SrcAS SrcAS TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_DstAS DstAS TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_SrcPort SrcPort TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_DstPort DstPort TYPE bloom_filter(0.01) GRANULARITY 4;

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-3', async_insert = 0 VALUES (3, 'add skip indexes on addresses, AS numbers and ports');

CREATE TABLE IF NOT EXISTS sluice.protocols ON CLUSTER `sluice_cluster` (Proto UInt64, Name String, Description String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/sluice/protocols', '{replica}') ORDER BY (Proto) COMMENT 'IP protocol numbers and names';

CREATE DICTIONARY IF NOT EXISTS sluice.protocols_dict ON CLUSTER `sluice_cluster` (Proto UInt64, Name String, Description String) PRIMARY KEY Proto SOURCE(CLICKHOUSE(DB 'sluice' TABLE 'protocols')) LAYOUT(FLAT()) LIFETIME(MIN 300 MAX 600);

CREATE TABLE IF NOT EXISTS sluice.services ON CLUSTER `sluice_cluster` (Proto UInt8, Port UInt16, Name String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/sluice/services', '{replica}') ORDER BY (Proto, Port) COMMENT 'well-known ports: protocol number, port, service name';

CREATE DICTIONARY IF NOT EXISTS sluice.services_dict ON CLUSTER `sluice_cluster` (Proto UInt8, Port UInt16, Name String) PRIMARY KEY Proto, Port SOURCE(CLICKHOUSE(DB 'sluice' TABLE 'services')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(MIN 300 MAX 600);

CREATE TABLE IF NOT EXISTS sluice.icmp_types ON CLUSTER `sluice_cluster` (EType UInt16, Type UInt8, Name String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/sluice/icmp_types', '{replica}') ORDER BY (EType, Type) COMMENT 'ICMP (EType 2048) and ICMPv6 (EType 34525) type names';

CREATE DICTIONARY IF NOT EXISTS sluice.icmp_types_dict ON CLUSTER `sluice_cluster` (EType UInt16, Type UInt8, Name String) PRIMARY KEY EType, Type SOURCE(CLICKHOUSE(DB 'sluice' TABLE 'icmp_types')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(MIN 300 MAX 600);

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-4', async_insert = 0 VALUES (4, 'create reference tables and dictionaries: protocols, services, ICMP types');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS1stLabel` UInt32 COMMENT 'first (top) MPLS label value, 20 bits';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS2ndLabel` UInt32 COMMENT 'second MPLS label value';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS3rdLabel` UInt32 COMMENT 'third MPLS label value';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressVRFID` UInt32 COMMENT 'ingress VRF ID (IPFIX IE 234)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressVRFID` UInt32 COMMENT 'egress VRF ID (IPFIX IE 235)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcAddrNAT` IPv6 COMMENT 'source address after NAT (IPv4 mapped)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstAddrNAT` IPv6 COMMENT 'destination address after NAT (IPv4 mapped)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcPortNAT` UInt16 COMMENT 'source port after NAPT';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstPortNAT` UInt16 COMMENT 'destination port after NAPT';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS1stLabel` UInt32 COMMENT 'first (top) MPLS label value, 20 bits';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS2ndLabel` UInt32 COMMENT 'second MPLS label value';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS3rdLabel` UInt32 COMMENT 'third MPLS label value';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressVRFID` UInt32 COMMENT 'ingress VRF ID (IPFIX IE 234)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressVRFID` UInt32 COMMENT 'egress VRF ID (IPFIX IE 235)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcAddrNAT` IPv6 COMMENT 'source address after NAT (IPv4 mapped)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstAddrNAT` IPv6 COMMENT 'destination address after NAT (IPv4 mapped)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcPortNAT` UInt16 COMMENT 'source port after NAPT';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstPortNAT` UInt16 COMMENT 'destination port after NAPT';

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-5', async_insert = 0 VALUES (5, 'add MPLS label, VRF and NAT columns');

CREATE TABLE IF NOT EXISTS sluice.interface_counters_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'when the collector received the sample',
    `ExporterAddress` IPv6 COMMENT 'sFlow agent address',
    `ObservationDomainID` UInt32 COMMENT 'sFlow sub-agent ID',
    `SequenceNumber` UInt32 COMMENT 'counter sample sequence number, per source',
    `SourceIDType` UInt8 COMMENT '0 ifIndex, 1 smonVlanDataSource, 2 entPhysicalEntry',
    `SourceIDIndex` UInt32,
    `HasGeneric` Bool COMMENT 'the generic interface counters were sent',
    `IfIndex` UInt32,
    `IfType` UInt32 COMMENT 'IANA ifType',
    `IfSpeed` UInt64 COMMENT 'bits per second',
    `IfDirection` UInt8 COMMENT '0 unknown, 1 full-duplex, 2 half-duplex, 3 in, 4 out',
    `IfAdminStatus` UInt8 COMMENT '1 up',
    `IfOperStatus` UInt8 COMMENT '1 up',
    `IfPromiscuousMode` UInt32,
    `IfInOctets` UInt64,
    `IfInUcastPkts` UInt64,
    `IfInMulticastPkts` UInt64,
    `IfInBroadcastPkts` UInt64,
    `IfInDiscards` UInt64,
    `IfInErrors` UInt64,
    `IfInUnknownProtos` UInt64,
    `IfOutOctets` UInt64,
    `IfOutUcastPkts` UInt64,
    `IfOutMulticastPkts` UInt64,
    `IfOutBroadcastPkts` UInt64,
    `IfOutDiscards` UInt64,
    `IfOutErrors` UInt64,
    `HasEthernet` Bool COMMENT 'the Ethernet (dot3) counters were sent',
    `Dot3StatsAlignmentErrors` UInt64,
    `Dot3StatsFCSErrors` UInt64,
    `Dot3StatsSingleCollisionFrames` UInt64,
    `Dot3StatsMultipleCollisionFrames` UInt64,
    `Dot3StatsSQETestErrors` UInt64,
    `Dot3StatsDeferredTransmissions` UInt64,
    `Dot3StatsLateCollisions` UInt64,
    `Dot3StatsExcessiveCollisions` UInt64,
    `Dot3StatsInternalMacTransmitErrors` UInt64,
    `Dot3StatsCarrierSenseErrors` UInt64,
    `Dot3StatsFrameTooLongs` UInt64,
    `Dot3StatsInternalMacReceiveErrors` UInt64,
    `Dot3StatsSymbolErrors` UInt64
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sluice/interface_counters_local', '{replica}')
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (ExporterAddress, IfIndex, TimeReceived)
TTL TimeReceived + toIntervalSecond(7776000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice sFlow interface counter samples, one row per sample';

CREATE TABLE IF NOT EXISTS sluice.interface_counters ON CLUSTER `sluice_cluster` AS sluice.interface_counters_local ENGINE = Distributed(`sluice_cluster`, sluice, interface_counters_local, cityHash64(ExporterAddress));

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-8', async_insert = 0 VALUES (8, 'create interface_counters table (sFlow counter samples)');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(1296000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_1m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(604800) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_5m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(7776000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_1h_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(31536000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.interface_counters_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(7776000) SETTINGS materialize_ttl_after_modify = 0;

TRUNCATE TABLE sluice.protocols ON CLUSTER `sluice_cluster`;

INSERT INTO sluice.protocols SETTINGS async_insert = 0 VALUES ...;

SYSTEM RELOAD DICTIONARY ON CLUSTER `sluice_cluster` sluice.protocols_dict;

TRUNCATE TABLE sluice.services ON CLUSTER `sluice_cluster`;

INSERT INTO sluice.services SETTINGS async_insert = 0 VALUES ...;

SYSTEM RELOAD DICTIONARY ON CLUSTER `sluice_cluster` sluice.services_dict;

TRUNCATE TABLE sluice.icmp_types ON CLUSTER `sluice_cluster`;

INSERT INTO sluice.icmp_types SETTINGS async_insert = 0 VALUES ...;

SYSTEM RELOAD DICTIONARY ON CLUSTER `sluice_cluster` sluice.icmp_types_dict;

