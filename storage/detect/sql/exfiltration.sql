-- Large outbound transfer: an inside host sending many bytes (sampling-
-- scaled) to an outside destination that no flow reached in the baseline
-- before the window. Needs enrich.own-networks (TrafficDirection).
-- The baseline (days of flows) is looked up only for the window's
-- candidates, the destinations already over min-bytes: the DstAddr skip
-- index prunes the rest. GLOBAL: on a cluster each subquery runs once.
SELECT WindowEnd,
    concat(toString(SrcAddr), ' > ', toString(DstAddr)) AS Key,
    toString(SrcAddr) AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, 0 AS DstPt, 0 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last
FROM {flows}
WHERE TrafficDirection = 'outbound'
GROUP BY WindowEnd, SrcAddr, DstAddr
HAVING SumBytes >= {min_bytes}
    AND DstAddr GLOBAL NOT IN (
        SELECT DISTINCT DstAddr FROM {table} WHERE {baseline} AND DstAddr GLOBAL IN (
            SELECT DstAddr FROM {flows} WHERE TrafficDirection = 'outbound'
            GROUP BY SrcAddr, DstAddr HAVING sum(SBytes) >= {min_bytes}))
