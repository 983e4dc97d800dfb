#!/usr/bin/env python3
# POST → first analysed frame of a stream added through the API, 6 times
# (docs/BENCHMARKS.md, issue #16). Needs a host with a stream already
# analysed by visual (the "base" stream) and no API token.
import json, time, urllib.request, sys
B=sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
def health():
    return json.load(urllib.request.urlopen(B+"/api/v1/health"))
def frames(id):
    for c in health()["components"]:
        if c["name"]==id: return c.get("counters",{}).get("frames",0), c.get("counters",{}).get("plugin.visual.analysed",0)
    return 0,0
while True:
    try:
        if frames("base")[1]>0: break
    except Exception: pass
    time.sleep(0.05)
res=[]
for i in range(6):
    id="p%d"%i
    body=json.dumps({"id":id,"source":"test://ball?width=320&height=240&fps=30","plugins":[{"name":"visual"}]}).encode()
    t0=time.time()
    r=urllib.request.urlopen(urllib.request.Request(B+"/api/v1/streams",data=body,method="POST",headers={"Content-Type":"application/json"}))
    t1=time.time()
    while frames(id)[1]==0: time.sleep(0.005)
    t2=time.time()
    res.append((t1-t0,t2-t0))
    urllib.request.urlopen(urllib.request.Request(B+"/api/v1/streams/"+id,method="DELETE"))
    time.sleep(0.3)
for a,b in res: print("POST answered %.3f s, first frame analysed %.3f s"%(a,b))
