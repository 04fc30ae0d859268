-- Vertical port scan: one source probing many ports of one host.
-- Distinct ports are counted as seen: sampling can only lower the count.
-- Only probe-like flows count (TCP without ACK, UDP of at most 2 packets,
-- not from a service port to an ephemeral one): a server answering a
-- client's many connections, or a resolver its clients, is no scan.
SELECT WindowEnd,
    concat(toString(SrcAddr), ' > ', toString(DstAddr)) AS Key,
    toString(SrcAddr) AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, 0 AS DstPt, 0 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    uniqExact(DstPort) AS Ports
FROM {flows}
WHERE {probe}
GROUP BY WindowEnd, SrcAddr, DstAddr
HAVING Ports >= {min_ports}
