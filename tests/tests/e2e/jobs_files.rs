//! Input files through the upload RPC: the real VCFs, the files refused
//! (and why), limits and quotas, ownership.

use std::io::Write;

use fedimpute_proto::{jobs as pb, registry as rpb, users as upb};
use fedimpute_tests::{
    backends,
    harness::{
        auth::bearer,
        jobs::{TestPlatform, fixture, upload},
    },
};
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::{common::violated_fields, jobs_common::Michigan};

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).expect("compress");
    e.finish().expect("compress")
}

#[tokio::test]
async fn the_real_vcfs_are_accepted_and_summarised() {
    for db in backends().await {
        let platform = TestPlatform::spawn(db).await;
        let (_, token) = platform.users.researcher("ada").await;
        let cases = [
            (
                "chr20.tiny.100snps.vcf.gz",
                51,
                100,
                "20",
                rpb::GenomeBuild::Hg19,
                false,
            ),
            (
                "chr20.mini.500snps.vcf.gz",
                51,
                500,
                "20",
                rpb::GenomeBuild::Hg19,
                false,
            ),
            (
                "chr20.small.1000snps.vcf.gz",
                51,
                1000,
                "20",
                rpb::GenomeBuild::Hg19,
                false,
            ),
            (
                "chr20.R50.merged.1.330k.recode.small.vcf.gz",
                51,
                7824,
                "20",
                rpb::GenomeBuild::Hg19,
                false,
            ),
            (
                "chr22.hg38.7samples.phased.vcf.gz",
                7,
                2527,
                "chr22",
                rpb::GenomeBuild::Hg38,
                true,
            ),
        ];
        for (name, samples, records, chrom, build, certain) in cases {
            let bytes = fixture(name);
            // Odd chunk sizes: the check must not depend on where chunks end.
            let file = platform
                .upload(&token, name, &bytes, 1531)
                .await
                .expect("accepted");
            let vcf = file.vcf.expect("a summary");
            assert_eq!(file.size_bytes, bytes.len() as i64, "{name}");
            assert_eq!(
                file.sha256,
                format!("{:x}", Sha256::digest(&bytes)),
                "{name}"
            );
            assert_eq!(file.compression, pb::Compression::Bgzf as i32, "{name}");
            assert_eq!(
                (vcf.samples_count, vcf.records_count),
                (samples, records),
                "{name}"
            );
            assert_eq!(vcf.chromosomes, [chrom], "{name}");
            assert!(vcf.sorted);
            assert_eq!(vcf.phasing, pb::Phasing::Phased as i32, "{name}");
            assert_eq!(
                (vcf.detected_build, vcf.build_certain),
                (build as i32, certain),
                "{name}: {}",
                vcf.build_evidence
            );
            assert_eq!(file.filename, name);
        }
        let listed = platform
            .jobs()
            .await
            .list_files(bearer(&token, pb::ListFilesRequest::default()))
            .await
            .expect("list")
            .into_inner()
            .files;
        assert_eq!(listed.len(), 5);
        platform.shutdown().await;
    }
}

#[tokio::test]
async fn bad_files_are_refused_with_what_is_wrong_and_nothing_is_kept() {
    for db in backends().await {
        let platform = TestPlatform::spawn(db).await;
        let (_, token) = platform.users.researcher("ada").await;
        let tiny = fixture("chr20.tiny.100snps.vcf.gz");
        let header =
            "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n";
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "truncated.vcf.gz",
                tiny[..tiny.len() / 2].to_vec(),
                "truncated",
            ),
            (
                "cut-at-a-block.vcf.gz",
                tiny[..tiny.len() - 28].to_vec(),
                "end-of-file marker is missing",
            ),
            ("notes.txt.gz", gz("these are my notes\n"), "not a VCF"),
            (
                "image.png",
                b"\x89PNG\r\n\x1a\n....".to_vec(),
                "not a gzip-compressed VCF",
            ),
            (
                "plain.vcf",
                format!("{header}20\t1\t.\tA\tG\t.\t.\t.\tGT\t0|1\n").into_bytes(),
                "uncompressed VCF",
            ),
            (
                "unsorted.vcf.gz",
                gz(&format!(
                    "{header}20\t500\t.\tA\tG\t.\t.\t.\tGT\t0|1\n20\t100\t.\tA\tG\t.\t.\t.\tGT\t0|1\n"
                )),
                "not sorted",
            ),
            ("empty.vcf.gz", gz(header), "no variant records"),
            ("nothing.vcf.gz", Vec::new(), "empty"),
        ];
        for (name, bytes, why) in cases {
            let err = platform
                .upload(&token, name, &bytes, 700)
                .await
                .expect_err(name);
            assert_eq!(err.code(), Code::InvalidArgument, "{name}: {err:?}");
            assert!(err.message().contains(why), "{name}: {}", err.message());
        }
        let listed = platform
            .jobs()
            .await
            .list_files(bearer(&token, pb::ListFilesRequest::default()))
            .await
            .expect("list")
            .into_inner()
            .files;
        assert!(listed.is_empty(), "nothing refused is kept");
        let mut stored = 0;
        for entry in walk(platform.files.path()) {
            stored += usize::from(entry.is_file());
        }
        assert_eq!(stored, 0, "no object left in the file store");
        platform.shutdown().await;
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn sizes_quotas_names_and_owners_are_enforced() {
    for db in backends().await {
        let platform =
            TestPlatform::spawn_with(db, |s| s.default_storage_limit_bytes = 100_000, |_| {}).await;
        let (_, ada) = platform.users.researcher("ada").await;
        let (_, eve) = platform.users.researcher("eve").await;
        let mut client = platform.jobs().await;
        let small = fixture("chr20.small.1000snps.vcf.gz");

        // Over the storage quota (100 kB): announced, refused before the bytes.
        let big = fixture("chr20.R50.merged.1.330k.recode.small.vcf.gz");
        let err = upload(
            &mut client,
            &ada,
            "big.vcf.gz",
            &big,
            8192,
            Some(big.len() as i64),
        )
        .await
        .expect_err("over quota");
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        // Not announced: refused after, and nothing kept.
        let err = upload(&mut client, &ada, "big.vcf.gz", &big, 8192, None)
            .await
            .expect_err("over quota");
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        // An announced size that is not the real one.
        let err = upload(&mut client, &ada, "small.vcf.gz", &small, 8192, Some(10))
            .await
            .expect_err("wrong size");
        assert!(
            violated_fields(&err).contains(&"file".to_owned()),
            "{err:?}"
        );

        // A hostile name is made safe.
        let file = upload(
            &mut client,
            &ada,
            "../../etc/my data;rm -rf.vcf.gz",
            &small,
            8192,
            Some(small.len() as i64),
        )
        .await
        .expect("accepted");
        assert_eq!(file.filename, "my_data_rm_-rf.vcf.gz");
        let quota = platform
            .users
            .client()
            .await
            .get_my_quota(bearer(&ada, upb::GetMyQuotaRequest {}))
            .await
            .expect("quota")
            .into_inner()
            .quota
            .expect("a quota");
        assert_eq!(quota.storage_used_bytes, small.len() as i64);

        // Someone else's file does not exist for them.
        for code in [
            client
                .get_file(bearer(
                    &eve,
                    pb::GetFileRequest {
                        id: file.id.clone(),
                    },
                ))
                .await
                .map(|_| ())
                .expect_err("not eve's"),
            client
                .delete_file(bearer(
                    &eve,
                    pb::DeleteFileRequest {
                        id: file.id.clone(),
                    },
                ))
                .await
                .map(|_| ())
                .expect_err("not eve's"),
        ] {
            assert_eq!(code.code(), Code::NotFound);
        }
        let anonymous = client
            .list_files(pb::ListFilesRequest::default())
            .await
            .expect_err("anonymous");
        assert_eq!(anonymous.code(), Code::Unauthenticated);

        // The owner downloads it back, then deletes it: quota given back.
        let mut stream = client
            .download_file(bearer(
                &ada,
                pb::DownloadFileRequest {
                    id: file.id.clone(),
                },
            ))
            .await
            .expect("download")
            .into_inner();
        let head = stream.message().await.expect("head").expect("head");
        assert_eq!(head.size_bytes, small.len() as i64);
        let mut got = Vec::new();
        while let Some(chunk) = stream.message().await.expect("chunk") {
            got.extend(chunk.data);
        }
        assert_eq!(got, small);
        client
            .delete_file(bearer(
                &ada,
                pb::DeleteFileRequest {
                    id: file.id.clone(),
                },
            ))
            .await
            .expect("deleted");
        let quota = platform
            .users
            .client()
            .await
            .get_my_quota(bearer(&ada, upb::GetMyQuotaRequest {}))
            .await
            .expect("quota")
            .into_inner()
            .quota
            .expect("a quota");
        assert_eq!(quota.storage_used_bytes, 0);
        platform.shutdown().await;
    }
}

#[tokio::test]
async fn a_file_in_use_is_kept_and_the_service_limit_and_build_are_checked() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        let file = m.upload(crate::jobs_common::TINY).await;
        let mut client = m.client().await;

        // hg19 data sent as hg38: the build is certain only from contigs or
        // positions; for the chr20 file it is a guess, so a warning.
        let job = m
            .create(pb::CreateJobRequest {
                build: rpb::GenomeBuild::Hg38 as i32,
                ..m.request("guess", &file)
            })
            .await
            .expect("a guess is only a warning");
        assert!(
            job.warnings.iter().any(|w| w.contains("looks like hg19")),
            "{:?}",
            job.warnings
        );
        // The hg38 file, certainly hg38, sent as hg19: refused.
        let hg38 = m.upload(crate::jobs_common::HG38).await;
        let err = m
            .create(pb::CreateJobRequest {
                build: rpb::GenomeBuild::Hg19 as i32,
                ..m.request("wrong build", &hg38)
            })
            .await
            .expect_err("wrong build");
        assert_eq!(violated_fields(&err), ["build"]);
        assert!(
            err.message().contains("looks like hg38"),
            "{}",
            err.message()
        );

        let in_use = client
            .delete_file(bearer(
                &m.token,
                pb::DeleteFileRequest {
                    id: file.id.clone(),
                },
            ))
            .await
            .expect_err("in use");
        assert_eq!(in_use.code(), Code::FailedPrecondition);

        // A service that takes at most 1 MB... and a file over it.
        let admin = m.platform.users.admin_token().await;
        m.platform
            .registry()
            .await
            .update_service(bearer(
                &admin,
                rpb::UpdateServiceRequest {
                    id: m.service.id,
                    service: Some(rpb::Service {
                        max_file_size_mb: Some(1),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["max_file_size_mb".into()],
                    }),
                },
            ))
            .await
            .expect("update");
        let mut noise = Vec::new();
        let mut rng_state = 7u64;
        let mut text = String::from(
            "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT",
        );
        for s in 0..30 {
            text.push_str(&format!("\tS{s}"));
        }
        text.push('\n');
        for pos in 1..40_000u64 {
            text.push_str(&format!("20\t{pos}\t.\tA\tG\t.\tPASS\t."));
            text.push_str("\tGT");
            for _ in 0..30 {
                rng_state = rng_state.wrapping_mul(6364136223846793005).wrapping_add(1);
                text.push_str(if rng_state >> 63 == 0 {
                    "\t0|1"
                } else {
                    "\t1|0"
                });
            }
            text.push('\n');
        }
        noise.extend(gz(&text));
        assert!(noise.len() > 1024 * 1024, "{}", noise.len());
        let large = m
            .platform
            .upload(&m.token, "large.vcf.gz", &noise, 65536)
            .await
            .expect("within the platform's limit");
        let err = m
            .create(m.request("too large", &large))
            .await
            .expect_err("over the service's limit");
        assert_eq!(violated_fields(&err), ["input_file_id"]);
        assert!(err.message().contains("1 MB"), "{}", err.message());
        m.shutdown().await;
    }
}
