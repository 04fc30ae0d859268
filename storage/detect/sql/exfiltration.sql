-- Large outbound transfer: an inside host sending many bytes (sampling-
-- scaled) to an outside destination that no flow reached in the baseline
-- before the window. Needs enrich.own-networks (TrafficDirection).
SELECT WindowEnd,
    concat(toString(SrcAddr), ' > ', toString(DstAddr)) AS Key,
    toString(SrcAddr) AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, 0 AS DstPt, 0 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last
FROM {flows}
WHERE TrafficDirection = 'outbound'
    AND DstAddr NOT IN (SELECT DISTINCT DstAddr FROM {table} WHERE {baseline})
GROUP BY WindowEnd, SrcAddr, DstAddr
HAVING SumBytes >= {min_bytes}
