"""The figures the demo generator is calibrated against (see the crate's docs), for the
real shops' logs and for a demo's orders:

    python3 crates/guanxi-demo/calibration/measure.py --real ../shared/data/real \
        --demo DIR/orders.csv        # DIR from `guanxi demo --export-csv DIR`

Per log: buyers, orders, purchase occasions (a buyer's orders within 24 hours of the
first are one), the share of one-time buyers, the median days between a buyer's
occasions, the share of revenue of the top 1 / 5 / 20 % of buyers, the Gini of revenue,
the median within-buyer coefficient of variation of occasion values (buyers with 3 or
more), the between-buyer coefficient of variation of mean values; for the demo also
the top 5 % of buyers' share of profit. A development tool: no test reads the real logs.
"""
import pandas as pd, numpy as np, glob, sys
R='/work/shared/data/real'
def figures(name, df, amounts=True):
    # df: customer, at (datetime), value (float, >0 paid orders)
    df=df.dropna(subset=['customer','at']).sort_values(['customer','at'])
    # occasions: orders of a customer within 24h of the occasion's first merged
    occ=[]
    for c,g in df.groupby('customer', sort=False):
        start=None; val=0
        for t,v in zip(g['at'],g['value']):
            if start is None or (t-start).total_seconds()>86400:
                if start is not None: occ.append((c,start,val))
                start=t; val=v
            else: val+=v
        occ.append((c,start,val))
    o=pd.DataFrame(occ,columns=['customer','at','value'])
    n=o.groupby('customer').size()
    out={'dataset':name,'buyers':len(n),'orders':len(df),'occasions':len(o),'one_time':(n==1).mean()}
    gaps=o.groupby('customer')['at'].diff().dropna().dt.total_seconds()/86400
    out['median_gap_days']=gaps.median() if len(gaps) else float('nan')
    if amounts:
        tot=o.groupby('customer')['value'].sum().sort_values(ascending=False)
        s=tot.sum(); k=len(tot)
        for p in (0.01,0.05,0.20):
            out[f'top{int(p*100)}%']=tot.iloc[:max(1,int(round(k*p)))].sum()/s
        x=np.sort(tot.values); i=np.arange(1,k+1)
        out['gini']=(2*(i*x).sum()/(k*x.sum()))-(k+1)/k
        g=o.groupby('customer')['value']
        cv=(g.std(ddof=0)/g.mean())[n>=3]
        out['within_cv_median']=cv.median()
        m=g.mean()
        out['between_cv']=m.std(ddof=0)/m.mean()
    return out
import argparse
ap=argparse.ArgumentParser()
ap.add_argument('--demo', help="a demo's orders.csv (guanxi demo --export-csv DIR)")
ap.add_argument('--real', default=R)
args=ap.parse_args()
R=args.real
rows=[]
if args.demo:
    d=pd.read_csv(args.demo,dtype={'order_id':str,'customer_id':str})
    d=d[d.paid_at.notna()]
    d['net']=d.amount-d.refund
    d['profit']=d.net-d.cost.fillna(0)
    o=d.groupby('order_id').agg(customer=('customer_id','first'),at=('paid_at','first'),value=('net','sum'),profit=('profit','sum')).reset_index()
    o['at']=pd.to_datetime(o['at'])
    o=o[o.value>0]
    f=figures('demo '+args.demo,o)
    p=o.groupby('customer')['profit'].sum().sort_values(ascending=False)
    f['top5% profit']=p.iloc[:int(round(len(p)*0.05))].sum()/p.sum()
    rows.append(f)
# UCI
u=pd.read_csv(f'{R}/online-retail-uci/online_retail_reconstructed.csv',dtype={'CustomerID':str,'InvoiceNo':str})
u=u[~u.InvoiceNo.str.startswith(('C','A'))]
u=u[(u.Quantity>0)&(u.UnitPrice>0)&u.CustomerID.notna()]
u['v']=u.Quantity*u.UnitPrice
inv=u.groupby('InvoiceNo').agg(customer=('CustomerID','first'),at=('InvoiceDate','first'),value=('v','sum')).reset_index()
inv['at']=pd.to_datetime(inv['at'])
rows.append(figures('UCI Online Retail (UK wholesale gifts)',inv))
# CDNOW master
c=pd.read_csv(f'{R}/cdnow-btyd/lifetimes_py/CDNOW_master.txt',sep=r'\s+',dtype={'customer_id':str,'date':str})
c=c[c.dollar_value>0]
c=pd.DataFrame({'customer':c.customer_id,'at':pd.to_datetime(c.date,format='%Y%m%d'),'value':c.dollar_value})
rows.append(figures('CDNOW (music, 1997 cohort)',c))
# mingrisoft taobao
t=pd.concat([pd.read_csv(f) for f in sorted(glob.glob(f'{R}/taobao-mingrisoft-2018-2019/derived_csv/*.csv'))])
t=t[t['买家实际支付金额']>0]
t=pd.DataFrame({'customer':t['买家会员名'],'at':pd.to_datetime(t['订单付款时间']),'value':t['买家实际支付金额']})
rows.append(figures('Taobao book shop (明日科技 2018-19)',t))
# grocery
g=pd.read_csv(f'{R}/grocery-btydplus/derived_csv/groceryElog.csv')
g=pd.DataFrame({'customer':g.cust,'at':pd.to_datetime(g.date),'value':1.0})
rows.append(figures('Online grocery (2006-07, no amounts)',g,amounts=False))
# Shopify shops with emails
for d in sorted(glob.glob(f'{R}/shopify-*')):
    for f in glob.glob(f'{d}/*.csv'):
        s=pd.read_csv(f,dtype=str)
        if 'Email' not in s or 'Total' not in s: continue
        s=s[s['Financial Status'].isin(['paid','partially_refunded'])]
        s=s.drop_duplicates('Name')
        s=pd.DataFrame({'customer':s['Email'],'at':pd.to_datetime(s['Created at'].str[:19]),'value':pd.to_numeric(s['Total'])})
        s=s[s.value>0]
        if s.customer.nunique()>=30:
            rows.append(figures(d.split('/')[-1]+'/'+f.split('/')[-1],s))
df=pd.DataFrame(rows)
pd.set_option('display.width',250); pd.set_option('display.max_columns',20)
print(df.round(3).to_string(index=False))
