# paired (same round) differences to kernel: regress d_server and d_client on d_wakeups
import sys, collections, statistics as st
names=sys.argv[2].split(',')
rows=[l.split() for l in open(sys.argv[1])]
by=collections.defaultdict(dict)
for r in rows: by[r[1]][int(r[0])]=[float(x) for x in r[2:]]
ref=by['c1']
q1=sorted(v[0] for v in ref.values())[len(ref)//4]
kept={r for r,v in ref.items() if v[0]<=1.15*q1}
def fit(xs,ys):
    mx=st.mean(xs); my=st.mean(ys)
    sxx=sum((x-mx)**2 for x in xs); sxy=sum((x-mx)*(y-my) for x,y in zip(xs,ys))
    b=sxy/sxx; return my-b*mx, b, sxy/(sxx*sum((y-my)**2 for y in ys))**.5
allp=[]
for i,t in enumerate(sorted(by, key=lambda x:int(x[1:]))):
    if t=='c1': continue
    P=[(by[t][r][1]-ref[r][1], by[t][r][3]-ref[r][3], by[t][r][4]-ref[r][4], by[t][r][0]-ref[r][0], names[i]) for r in kept if r in by[t]]
    allp+=P
    a,b,rr=fit([p[0] for p in P],[p[1] for p in P]); a2,b2,r2=fit([p[0] for p in P],[p[2] for p in P])
    print('%-26s server: %+5.0f + %6.0f*dw (r=%.2f)   client: %+5.0f + %6.0f*dw (r=%.2f)'%(names[i],a,b,rr,a2,b2,r2))
for lab,j in (('server',1),('client',2),('total',3)):
    a,b,rr=fit([p[0] for p in allp],[p[j] for p in allp])
    print('pooled %s: %+.0f + %.0f*dw (r=%.2f)'%(lab,a,b,rr))
