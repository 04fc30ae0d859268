-- Horizontal sweep: one source probing one port on many hosts.
-- Distinct hosts are counted as seen: sampling can only lower the count.
-- Only the swept-for services' ports (sweep.ports) and probe-like flows
-- count: a resolver, a proxy or a NAT gateway reaches many hosts on DNS
-- or HTTPS with conversations, not probes.
SELECT WindowEnd,
    concat(toString(SrcAddr), ' > *:', toString(Proto), '/', toString(DstPort)) AS Key,
    toString(SrcAddr) AS Src, '::' AS Dst, 0 AS SrcPt, DstPort AS DstPt, Proto AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    uniqExact(DstAddr) AS Hosts
FROM {flows}
WHERE DstPort IN ({ports}) AND {probe}
GROUP BY WindowEnd, SrcAddr, Proto, DstPort
HAVING Hosts >= {min_hosts}
