-- Brute force: many short connections from one source to one host's login
-- service (SSH, SMB, RDP, VNC). Each connection has its own client port:
-- the distinct client ports seen count the attempts.
SELECT WindowEnd,
    concat(toString(SrcAddr), ' > ', toString(DstAddr), ':', toString(DstPort)) AS Key,
    toString(SrcAddr) AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, DstPort AS DstPt, 6 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    uniqExact(SrcPort) AS Attempts, round(sum(Packets) / count(), 1) AS AvgPackets
FROM {flows}
WHERE Proto = 6 AND DstPort IN ({ports})
GROUP BY WindowEnd, SrcAddr, DstAddr, DstPort
HAVING Attempts >= {min_attempts} AND AvgPackets <= {max_packets}
