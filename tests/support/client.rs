//! A minimal HTTP/1.1 client that can choose its source address, so tests can
//! play different proxies from 127.0.0.x, and the reply as the echo backend saw it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

/// A response as the test client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Reply {
    /// The echo backend's JSON body.
    pub fn echoed(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not an echo reply ({e}): {self:?}"))
    }

    /// Every value of a header the backend received (lower-case name). Our
    /// echo backend lists each line (`["a", "b"]`); the cluster's
    /// (mendhak/http-https-echo, Node.js) gives one string, repeated lines
    /// joined by Node with ", ".
    pub fn upstream_header(&self, name: &str) -> Vec<String> {
        match &self.echoed()["headers"][name.to_ascii_lowercase()] {
            serde_json::Value::Array(values) => {
                values.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect()
            }
            serde_json::Value::String(value) => vec![value.clone()],
            _ => Vec::new(),
        }
    }

    /// Every header name the backend received (lower case), in the echo's order.
    pub fn upstream_names(&self) -> Vec<String> {
        self.echoed()["headers"].as_object().map(|h| h.keys().cloned().collect()).unwrap_or_default()
    }

    /// The single value of an upstream header, or `None`.
    pub fn upstream_one(&self, name: &str) -> Option<String> {
        let values = self.upstream_header(name);
        assert!(values.len() <= 1, "{name} arrived {} times: {values:?}", values.len());
        values.into_iter().next()
    }
}

/// Sends one request from `source` (port chosen by the OS; `None`: the
/// address the OS picks) to `target`.
pub async fn send(
    source: Option<IpAddr>,
    target: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Reply> {
    let socket = if target.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let stream = socket.connect(target).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder().method(method).uri(path);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req = req.header("host", "edgeguard.test");
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Empty::<Bytes>::new()).map_err(std::io::Error::other)?;
    reply(sender.send_request(req).await.map_err(std::io::Error::other)?).await
}

/// Collects a response into a [`Reply`].
pub async fn reply(resp: hyper::Response<hyper::body::Incoming>) -> std::io::Result<Reply> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = resp.into_body().collect().await.map_err(std::io::Error::other)?.to_bytes();
    Ok(Reply { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}
