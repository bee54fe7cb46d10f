"""The figures the demo generator is calibrated against (see the crate's docs), for real
shops' logs and for a demo's orders:

    python3 crates/guanxi-demo/calibration/measure.py --real DIR_OF_REAL_LOGS \
        [--demo DEMO_DIR/orders.csv] [--out crates/guanxi-demo/calibration/real-logs.csv]

DIR_OF_REAL_LOGS holds the real logs in the layout the crate's docs name (UCI Online
Retail, CDNOW, the Taobao book shop, the grocery log, Shopify exports); DEMO_DIR comes from
`guanxi demo --export-csv DEMO_DIR`. `--out` writes the real logs' figures as CSV: the
committed `real-logs.csv` is that file, and the default demo's test reads its range of
key customers' shares from it (the logs themselves, tens of megabytes, stay outside the
repository; no test reads them).

Per log: buyers, orders, purchase occasions (a buyer's orders within 24 hours of the
first are one), the share of one-time buyers, the median days between a buyer's
occasions, the share of revenue of the top 1 / 5 / 20 % of buyers, the Gini of revenue,
the median within-buyer coefficient of variation of occasion values (buyers with 3 or
more), the between-buyer coefficient of variation of mean values, and (with scipy) the
Gamma-Gamma fit of repeat occasions' values (p, q); for the demo also the top 5 % of
buyers' share of profit.
"""
import argparse
import glob
import os

import numpy as np
import pandas as pd


def occasions(df):
    """A buyer's orders within 24 h of the occasion's first, merged: customer, at, value."""
    df = df.dropna(subset=['customer', 'at']).sort_values(['customer', 'at'])
    out = []
    for c, g in df.groupby('customer', sort=False):
        start, val = None, 0.0
        for t, v in zip(g['at'], g['value']):
            if start is None or (t - start).total_seconds() > 86400:
                if start is not None:
                    out.append((c, start, val))
                start, val = t, v
            else:
                val += v
        out.append((c, start, val))
    return pd.DataFrame(out, columns=['customer', 'at', 'value'])


def gamma_gamma(o):
    """Gamma-Gamma (p, q) fitted to repeat occasions' count and mean value; None without
    scipy or when the fit does not converge."""
    try:
        from scipy.optimize import minimize
        from scipy.special import gammaln
    except ImportError:
        return None
    o = o.sort_values(['customer', 'at']).copy()
    o['rank'] = o.groupby('customer').cumcount()
    rep = o[(o['rank'] > 0) & (o['value'] > 0)].groupby('customer')['value'].agg(['count', 'mean'])
    if rep.empty:
        return None
    x, m = rep['count'].to_numpy(float), rep['mean'].to_numpy(float)

    def nll(t):
        p, q, g = np.exp(t)
        px = p * x
        return -(gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * np.log(m)
                 + px * np.log(x) - (px + q) * np.log(g + m * x)).sum()

    r = minimize(nll, np.log([1.0, 1.0, 1.0]), method='Nelder-Mead',
                 options={'maxiter': 20000, 'maxfev': 20000, 'xatol': 1e-8, 'fatol': 1e-8})
    return tuple(np.exp(r.x)[:2]) if r.success else None


def figures(name, df, amounts=True):
    """df: customer, at (datetime), value (paid orders, > 0)."""
    df = df.dropna(subset=['customer', 'at'])
    o = occasions(df)
    n = o.groupby('customer').size()
    out = {'dataset': name, 'buyers': len(n), 'orders': len(df), 'occasions': len(o),
           'one_time': (n == 1).mean()}
    gaps = o.groupby('customer')['at'].diff().dropna().dt.total_seconds() / 86400
    out['median_gap_days'] = gaps.median() if len(gaps) else float('nan')
    if amounts:
        tot = o.groupby('customer')['value'].sum().sort_values(ascending=False)
        s, k = tot.sum(), len(tot)
        for p in (0.01, 0.05, 0.20):
            out[f'top{int(p * 100)}%'] = tot.iloc[:max(1, int(round(k * p)))].sum() / s
        x, i = np.sort(tot.to_numpy()), np.arange(1, k + 1)
        out['gini'] = (2 * (i * x).sum() / (k * x.sum())) - (k + 1) / k
        g = o.groupby('customer')['value']
        out['within_cv_median'] = (g.std(ddof=0) / g.mean())[n >= 3].median()
        means = g.mean()
        out['between_cv'] = means.std(ddof=0) / means.mean()
        fit = gamma_gamma(o)
        out['gg_p'], out['gg_q'] = fit if fit else (float('nan'), float('nan'))
    return out


def real_logs(root):
    rows = []
    u = pd.read_csv(f'{root}/online-retail-uci/online_retail_reconstructed.csv',
                    dtype={'CustomerID': str, 'InvoiceNo': str})
    u = u[~u.InvoiceNo.str.startswith(('C', 'A'))]
    u = u[(u.Quantity > 0) & (u.UnitPrice > 0) & u.CustomerID.notna()]
    u['v'] = u.Quantity * u.UnitPrice
    inv = u.groupby('InvoiceNo').agg(customer=('CustomerID', 'first'), at=('InvoiceDate', 'first'),
                                     value=('v', 'sum')).reset_index()
    inv['at'] = pd.to_datetime(inv['at'])
    rows.append(figures('UCI Online Retail (UK wholesale gifts)', inv))
    c = pd.read_csv(f'{root}/cdnow-btyd/lifetimes_py/CDNOW_master.txt', sep=r'\s+',
                    dtype={'customer_id': str, 'date': str})
    c = c[c.dollar_value > 0]
    rows.append(figures('CDNOW (music, 1997 cohort)', pd.DataFrame(
        {'customer': c.customer_id, 'at': pd.to_datetime(c.date, format='%Y%m%d'), 'value': c.dollar_value})))
    t = pd.concat([pd.read_csv(f) for f in sorted(glob.glob(f'{root}/taobao-mingrisoft-2018-2019/derived_csv/*.csv'))])
    t = t[t['买家实际支付金额'] > 0]
    rows.append(figures('Taobao book shop (2018-19)', pd.DataFrame(
        {'customer': t['买家会员名'], 'at': pd.to_datetime(t['订单付款时间']), 'value': t['买家实际支付金额']})))
    g = pd.read_csv(f'{root}/grocery-btydplus/derived_csv/groceryElog.csv')
    rows.append(figures('Online grocery (2006-07, no amounts)', pd.DataFrame(
        {'customer': g.cust, 'at': pd.to_datetime(g.date), 'value': 1.0}), amounts=False))
    for d in sorted(glob.glob(f'{root}/shopify-*')):
        for f in sorted(glob.glob(f'{d}/*.csv')):
            s = pd.read_csv(f, dtype=str)
            if 'Email' not in s or 'Total' not in s:
                continue
            s = s[s['Financial Status'].isin(['paid', 'partially_refunded'])].drop_duplicates('Name')
            s = pd.DataFrame({'customer': s['Email'], 'at': pd.to_datetime(s['Created at'].str[:19]),
                              'value': pd.to_numeric(s['Total'])})
            s = s[s.value > 0]
            if s.customer.nunique() >= 30:
                rows.append(figures(f'{os.path.basename(d)}/{os.path.basename(f)}', s))
    return rows


def demo(path):
    d = pd.read_csv(path, dtype={'order_id': str, 'customer_id': str})
    d = d[d.paid_at.notna()]
    d['net'] = d.amount - d.refund
    d['profit'] = d.net - d.cost.fillna(0)
    o = d.groupby('order_id').agg(customer=('customer_id', 'first'), at=('paid_at', 'first'),
                                  value=('net', 'sum'), profit=('profit', 'sum')).reset_index()
    o['at'] = pd.to_datetime(o['at'])
    o = o[o.value > 0]
    f = figures('demo ' + path, o)
    p = o.groupby('customer')['profit'].sum().sort_values(ascending=False)
    f['top5% profit'] = p.iloc[:int(round(len(p) * 0.05))].sum() / p.sum()
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--real', required=True, help='the directory of the real logs')
    ap.add_argument('--demo', help="a demo's orders.csv (guanxi demo --export-csv DIR)")
    ap.add_argument('--out', help="write the real logs' figures to this CSV")
    args = ap.parse_args()
    real = real_logs(args.real)
    if args.out:
        pd.DataFrame(real).round(4).to_csv(args.out, index=False)
    rows = ([demo(args.demo)] if args.demo else []) + real
    pd.set_option('display.width', 250)
    pd.set_option('display.max_columns', 20)
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == '__main__':
    main()
