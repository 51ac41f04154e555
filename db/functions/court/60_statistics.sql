-- Statistics of the court's own activity (issue 15, point 8), for the GUI's Statistiques screen
-- and psql: counts and delays only, never a name, a NIU or a reference. Every staff member may
-- read them (they see the fiches themselves anyway); nothing is suppressed here: the CJN's
-- `stat` schema is the one meant for publication.

-- A period of months: [from, to] as first days of months; by default the last 12 months.
create function juris._month_range(from_month date, to_month date, out first_month date, out last_month date)
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
begin
    last_month := date_trunc('month', coalesce(to_month, current_date))::date;
    first_month := date_trunc('month', coalesce(from_month, last_month - interval '11 months'))::date;
    if first_month > last_month then
        raise exception 'Période invalide : du % au %.', to_char(first_month, 'MM/YYYY'), to_char(last_month, 'MM/YYYY')
            using errcode = 'XJ001', column = 'from_month';
    end if;
    if last_month - first_month > 3660 then
        raise exception 'Période trop longue : 10 ans au plus.' using errcode = 'XJ001', column = 'from_month';
    end if;
end
$$;

-- Fiches created each month, by their status now (0 brouillon ... 5 déclassée). Every month
-- of the period appears, with zero rows for the statuses it has none of omitted.
create function juris.stat_fiches_by_month(from_month date default null, to_month date default null)
    returns table (month date, status integer, status_label text, fiches bigint)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    p record;
begin
    perform juris._require(1, 'Consulter les statistiques');
    p := juris._month_range(from_month, to_month);
    return query
    select date_trunc('month', f.created_at)::date, juris._status_number(f.status), juris._status_label(f.status),
           count(*)
      from court.fiche f
     where f.created_at >= p.first_month and f.created_at < p.last_month + interval '1 month'
     group by 1, 2, 3
     order by 1, 2;
end
$$;

-- Convictions signed by the court (signed or archived, not withdrawn) pronounced in a period,
-- by offence category and class.
create function juris.stat_offences(from_date date default null, to_date date default null)
    returns table (offence_category text, category_label text, offence_class text, fiches bigint)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(1, 'Consulter les statistiques');
    if from_date > to_date then
        raise exception 'Période invalide : du % au %.', to_char(from_date, 'DD/MM/YYYY'), to_char(to_date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'from_date';
    end if;
    return query
    select f.offence_category, o.label, f.offence_class::text, count(*)
      from court.fiche f
      left join court.offence_category o on o.code = f.offence_category
     where f.status in ('signee', 'archivee')
       and (from_date is null or f.conviction_date >= from_date)
       and (to_date is null or f.conviction_date <= to_date)
     group by 1, 2, 3
     order by 4 desc, 1, 3;
end
$$;

-- Delays of the fiches signed each month: from the conviction to the first signature (days),
-- and from the signature to the CJN's storing it (its signed receipt's time, in hours); median
-- and 90th percentile; fiches whose receipt has not come yet are counted apart.
create function juris.stat_delays(from_month date default null, to_month date default null)
    returns table (month date, fiches bigint, conviction_to_signature_median_days numeric,
                   conviction_to_signature_p90_days numeric, signature_to_cjn_median_hours numeric,
                   signature_to_cjn_p90_hours numeric, awaiting_cjn bigint)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    p record;
begin
    perform juris._require(1, 'Consulter les statistiques');
    p := juris._month_range(from_month, to_month);
    return query
    with signed as (
        select date_trunc('month', o.created_at)::date as month,
               o.created_at::date - f.conviction_date as to_signature_days,
               extract(epoch from (o.receipt ->> 'stored_at')::timestamptz - o.created_at) / 3600.0 as to_cjn_hours
          from court.outbox o
          join court.fiche f on f.fiche_id = o.fiche_id
         where o.kind = 'fiche_signed'
           and o.created_at >= p.first_month and o.created_at < p.last_month + interval '1 month')
    select s.month, count(*),
           round(percentile_cont(0.5) within group (order by s.to_signature_days)::numeric, 1),
           round(percentile_cont(0.9) within group (order by s.to_signature_days)::numeric, 1),
           round((percentile_cont(0.5) within group (order by s.to_cjn_hours))::numeric, 2),
           round((percentile_cont(0.9) within group (order by s.to_cjn_hours))::numeric, 2),
           count(*) filter (where s.to_cjn_hours is null)
      from signed s
     group by s.month
     order by s.month;
end
$$;
