-- The codes realigned with the NOS tables (TRE_R330, TRE_R329, TRE_R332, TRE_R227, TRE_R211,
-- TRE_R213): a store written with the earlier sample codes is translated, in its search rows,
-- its locations' capacities, their history and its services. Statuses (J188): sample 03
-- (available) is 02, 05 (occupied) 03, 04 (closed) 05, 02 (open) 01 (installed). Types
-- (J187): the sample's cradles, incubators and stretchers (03, 04, 05) are beds (01).
-- Genders (J190): 01 (men) is 02, 02 (women) 01, 03 (any) left out. Services: J20 02
-- (psychiatry) is 03, 03 (rehabilitation) 02, J17 and J19 to the codes of the same activity
-- and mode. Versions are kept: the capacities are the same, their codes spelled right.
-- JSON text is rewritten through '#' markers so that no value is translated twice.
-- (Statements are split on semicolons: none in comments.)
UPDATE offer_capacity SET status = CASE status WHEN '03' THEN '02' WHEN '05' THEN '03'
    WHEN '04' THEN '05' WHEN '02' THEN '01' ELSE status END;
UPDATE offer_capacity SET capacity_type = '01' WHERE capacity_type IN ('03', '04', '05');
UPDATE offer_location SET capacities = REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
    REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(capacities,
    '"status":"03"', '"status":"#02"'), '"status":"05"', '"status":"#03"'),
    '"status":"04"', '"status":"#05"'), '"status":"02"', '"status":"#01"'),
    '"status":"#', '"status":"'),
    '"capacity_type":"03"', '"capacity_type":"01"'), '"capacity_type":"04"', '"capacity_type":"01"'),
    '"capacity_type":"05"', '"capacity_type":"01"'),
    '"gender":"01"', '"gender":"#02"'), '"gender":"02"', '"gender":"#01"'),
    '"gender":"#', '"gender":"'), '"gender":"03",', '');
UPDATE offer_capacity_history SET capacities = REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
    REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(capacities,
    '"status":"03"', '"status":"#02"'), '"status":"05"', '"status":"#03"'),
    '"status":"04"', '"status":"#05"'), '"status":"02"', '"status":"#01"'),
    '"status":"#', '"status":"'),
    '"capacity_type":"03"', '"capacity_type":"01"'), '"capacity_type":"04"', '"capacity_type":"01"'),
    '"capacity_type":"05"', '"capacity_type":"01"'),
    '"gender":"01"', '"gender":"#02"'), '"gender":"02"', '"gender":"#01"'),
    '"gender":"#', '"gender":"'), '"gender":"03",', '');
UPDATE offer_service SET service_type = CASE service_type WHEN '02' THEN '03' WHEN '03' THEN '02'
    ELSE service_type END;
UPDATE offer_service SET specialty = CASE specialty WHEN '001' THEN '083' WHEN '012' THEN '013'
    WHEN '045' THEN '127' WHEN '068' THEN '088' WHEN '092' THEN '050' WHEN '110' THEN '229'
    ELSE specialty END;
UPDATE offer_service SET care_mode = CASE care_mode WHEN '01' THEN '28' WHEN '02' THEN '29'
    WHEN '07' THEN '32' ELSE care_mode END
